"""Server side: wires the panel's view to this process's server: buttons in (start, stop, apply, test, the
auto token's rotation, a client's disconnection), events and status out; the fields are fields.Fields'.

Server events arrive on the server's threads; qtloop's poster hands them to the GUI thread (a byte on
a socketpair wakes a QSocketNotifier there: no Qt call is made off that thread), so the widgets are
touched only where they live, and nothing here touches the network from the UI thread.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from hrpyc._auth import tokens
from hrpyc._common.address import format_address
from hrpyc._panel import model
from hrpyc._panel.fields import Fields, Wanted
from hrpyc._panel.qt import QtCompat, QtCore, QtWidgets
from hrpyc._panel.testrun import SelfTest
from hrpyc._server import events, qtloop
from hrpyc._server.lifecycle import restart_server, running_server, start_server, stop_server
from hrpyc.errors import HrpycError

REFRESH_MS = 1000  # request counts change without events; the client table re-reads them this often


class PanelController(QtCore.QObject):
    def __init__(
        self,
        view: Any,
        settings: Optional[model.Settings] = None,
        confirm: Optional[Callable[[str], bool]] = None,
    ) -> None:
        super().__init__(view)
        self.view = view
        self._confirm = confirm or self._ask
        self._error = ""  # why the server is not running, for the status
        self._refusal = ""  # why the last Start or Apply was refused, until a field changes
        self._closed = False
        post = qtloop.application_poster()
        if post is None:
            raise RuntimeError("the hrpyc panel needs a running QApplication, and its thread")
        show = self._show_event

        def on_event(event: events.ServerEvent) -> None:
            # On a server thread: touch no Qt object here (PySide6 6.12 corrupts reference counts when
            # a Python thread reads attributes of a QObject); hand the event to the GUI thread.
            post(lambda: show(event))

        self._listener = on_event
        self._test = SelfTest(self, view.show_test)
        self.fields = Fields(view, settings or model.Settings(), self._validate, self._refuse)
        view.rotate_token_button.clicked.connect(self.rotate_token)
        view.start_button.clicked.connect(self.start)
        view.stop_button.clicked.connect(self.stop)
        view.apply_button.clicked.connect(self.apply)
        view.test_button.clicked.connect(self.test)
        view.disconnect_button.clicked.connect(self.disconnect_selected)
        view.snippet_button.clicked.connect(self.copy_snippet)
        view.copy_log_button.clicked.connect(self.copy_log)
        view.clients.itemSelectionChanged.connect(self._enable_disconnect)
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self._refresh)
        self._timer.start(REFRESH_MS)
        events.subscribe(on_event)
        if self.fields.settings.running and running_server() is None:
            self.start()  # the server was on when Houdini last quit
        self._refresh()

    def close(self) -> None:
        """The panel goes away; the server does not."""
        self._closed = True
        events.unsubscribe(self._listener)

    def requested(self) -> Optional[Wanted]:
        """What the fields ask for, or None (the problem is shown, naming its field)."""
        wanted, problem = self.fields.read()
        self.view.problem.setText(problem or self._refusal)
        return wanted

    def start(self) -> None:
        wanted = self.requested()
        if wanted is None:
            return
        try:
            server = start_server(wanted.port, host=wanted.host, token=wanted.server_token)
        except HrpycError as exc:
            self._refused(exc, wanted)
            self._error = self._refusal
        else:
            self._started(server, wanted)
        self.fields.remember(running=running_server() is not None)
        self._refresh()

    def stop(self) -> None:
        stop_server()
        self._test.forget()
        self._error = ""
        self.fields.remember(running=False)
        self._refresh()

    def apply(self) -> None:
        """New host, port or credential while running: once the user agrees, a server with them replaces
        the running one - bound before the old one stops, so a refusal leaves it and its clients be."""
        server, wanted = running_server(), self.requested()
        if server is None or wanted is None or self.fields.same(server, wanted):
            return
        question = "Restart the server on {} ({})? Connected clients will be disconnected.".format(
            format_address(wanted.host, wanted.port), self.view.credential_choice.currentText().lower()
        )
        if not self._confirm(question):
            return
        try:
            new = restart_server(wanted.port, host=wanted.host, token=wanted.server_token)
        except HrpycError as exc:
            self._refused(exc, wanted)
            if running_server() is None:
                self._error = self._refusal  # the port was taken in the instant it was free: see restart_server
        else:
            self._started(new, wanted)
        self.fields.remember(running=running_server() is not None)
        self._refresh()

    def test(self) -> None:
        """Run the self-test against the running server, from a separate process."""
        server = running_server()
        if server is None:
            return
        applied = self.fields.applied_token
        token = applied if server.token_source == "given" and applied else None
        self._test.start(server.address[0], server.address[1], token)
        self._refresh()

    def rotate_token(self) -> None:
        """A new auto token; a server using the old one restarts with it (its clients must reconnect)."""
        server = running_server()
        uses_it = server is not None and server.token_source == "auto"
        if not self._confirm(model.rotation_question(uses_it)):
            return
        try:
            tokens.rotate_auto_token()
            if uses_it and server is not None:
                restart_server(server.address[1], host=server.address[0], token="auto")
        except HrpycError as exc:
            self._refusal = str(exc)
        else:
            self.view.say(self.view.info, model.rotated(tokens.auto_token_path(), uses_it))
        self.fields.show_token(self.view.show_token_button.isChecked())
        self._refresh()

    def disconnect_selected(self) -> None:
        server, client_id = running_server(), self.view.selected_client()
        if server is not None and client_id is not None:
            server.disconnect(client_id)

    def copy_snippet(self) -> None:
        server = running_server()
        if server is not None:
            QtWidgets.QApplication.clipboard().setText(model.snippet(server))
            self.view.flash(self.view.snippet_button)

    def copy_log(self) -> None:
        QtWidgets.QApplication.clipboard().setText(self.view.log.toPlainText())
        self.view.flash(self.view.copy_log_button)

    def _started(self, server: Any, wanted: Wanted) -> None:
        self.fields.took(server, wanted)
        self._error = self._refusal = ""
        self._test.forget()  # its results were another server's

    def _refused(self, exc: HrpycError, wanted: Wanted) -> None:
        self._refusal, free = model.refusal(exc, wanted.host, wanted.port)
        self.view.offer_port(free)
        self.view.log.appendPlainText("{} error        {}".format(time.strftime("%H:%M:%S"), self._refusal))

    def _refuse(self, text: str) -> None:
        """What the fields cannot do (read the auto token), said until a field changes."""
        self._refusal = text
        self._refresh()

    def _alive(self) -> bool:
        """False once the panel's widgets are gone (a closed pane tab): then stop listening."""
        if not self._closed and not QtCompat.isValid(self.view):
            self.close()
        return not self._closed

    def _show_event(self, event: events.ServerEvent) -> None:
        if not self._alive():
            return
        self.view.log.appendPlainText(model.event_line(event))
        if event.kind == events.ERROR:
            self._error = event.message
        self._refresh()

    def _refresh(self) -> None:
        if not self._alive():
            return
        server = running_server()
        self.view.show_status(*model.status(server, self._error))
        self.view.show_clients(model.client_rows(server.clients() if server is not None else []))
        wanted = self.requested()
        unchanged = server is None or wanted is None or self.fields.same(server, wanted)
        self.view.start_button.setEnabled(server is None and wanted is not None)
        self.view.stop_button.setEnabled(server is not None)
        self.view.apply_button.setEnabled(not unchanged)
        self.view.test_button.setEnabled(server is not None and not self._test.running())
        self.view.snippet_button.setEnabled(server is not None)
        self._enable_disconnect()

    def _enable_disconnect(self) -> None:
        self.view.disconnect_button.setEnabled(running_server() is not None and self.view.selected_client() is not None)

    def _validate(self, *_: Any) -> None:
        if self._error == self._refusal:  # "Not running: Port 18811 is already in use" no longer applies either
            self._error = ""
        self._refusal = ""  # a changed field answers the last refusal
        self.view.offer_port(None)
        self._refresh()

    def _ask(self, question: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self.view, "hrpyc", question)
        return answer == QtWidgets.QMessageBox.Yes
