"""Server side: wires the panel's view to this process's server: buttons and fields in, events and status
out.

Server events arrive on the server's threads; qtloop's poster hands them to the GUI thread (a byte on
a socketpair wakes a QSocketNotifier there: no Qt call is made off that thread), so the widgets are
touched only where they live, and nothing here touches the network from the UI thread.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, NamedTuple, Optional

from hrpyc._auth import tokens
from hrpyc._common import discovery, sessions
from hrpyc._common.address import format_address
from hrpyc._panel import model
from hrpyc._panel.qt import QtCompat, QtCore, QtWidgets
from hrpyc._panel.testrun import SelfTest
from hrpyc._server import events, qtloop
from hrpyc._server.lifecycle import restart_server, running_server, start_server, stop_server
from hrpyc.errors import HrpycError

REFRESH_MS = 1000  # request counts change without events; the client table re-reads them this often


class Wanted(NamedTuple):
    """What the fields ask for: where to listen, and the credential (with the typed token, if any)."""

    host: str
    port: int
    credential: str
    token: str

    @property
    def server_token(self) -> str:
        """The server's `token=`: '' for none, so a credential the panel chose wins over HRPYC_TOKEN."""
        return {model.NO_TOKEN: "", model.AUTO_TOKEN: "auto"}.get(self.credential, self.token)


class PanelController(QtCore.QObject):
    def __init__(
        self,
        view: Any,
        settings: Optional[model.Settings] = None,
        confirm: Optional[Callable[[str], bool]] = None,
    ) -> None:
        super().__init__(view)
        self.view = view
        self.settings = settings or model.Settings()
        self._confirm = confirm or self._ask
        self._error = ""  # why the server is not running, for the status
        self._refusal = ""  # why the last Start or Apply was refused, until a field changes
        self._applied_token = ""  # the typed token the panel last started a server with
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
        self._fill_fields()
        view.host_choice.currentIndexChanged.connect(self._on_host_choice)
        view.host_edit.textChanged.connect(self._validate)
        view.port_edit.textChanged.connect(self._validate)
        view.credential_choice.currentIndexChanged.connect(self._on_credential_choice)
        view.token_edit.textChanged.connect(self._validate)
        view.show_token_button.toggled.connect(self._show_token)
        view.copy_token_button.clicked.connect(self.copy_token)
        view.rotate_token_button.clicked.connect(self.rotate_token)
        view.free_port_button.clicked.connect(self._use_free_port)
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
        if self.settings.running and running_server() is None:
            self.start()  # the server was on when Houdini last quit
        self._refresh()

    def close(self) -> None:
        """The panel goes away; the server does not."""
        self._closed = True
        events.unsubscribe(self._listener)

    def requested(self) -> Optional[Wanted]:
        """What the fields ask for, or None (the problem is shown, naming its field)."""
        view = self.view
        host = view.host_choice.currentData() or view.host_edit.text().strip()
        credential, token = view.credential_choice.currentData(), view.token_edit.text()
        problem = (
            (None if view.host_choice.currentData() else model.host_problem(host))
            or model.port_problem(view.port_edit.text())
            or model.token_problem(credential, token)
            or model.exposure_problem(host, credential)
        )
        view.problem.setText(problem or self._refusal)
        return None if problem else Wanted(host, int(view.port_edit.text()), credential, token)

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
        self._remember(running=running_server() is not None)
        self._refresh()

    def stop(self) -> None:
        stop_server()
        self._test.forget()
        self._error = ""
        self._remember(running=False)
        self._refresh()

    def apply(self) -> None:
        """New host, port or credential while running: once the user agrees, a server with them replaces
        the running one - bound before the old one stops, so a refusal leaves it and its clients be."""
        server, wanted = running_server(), self.requested()
        if server is None or wanted is None or self._same(server, wanted):
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
        self._remember(running=running_server() is not None)
        self._refresh()

    def test(self) -> None:
        """Run the self-test against the running server, from a separate process."""
        server = running_server()
        if server is None:
            return
        token = self._applied_token if server.token_source == "given" and self._applied_token else None
        self._test.start(server.address[0], server.address[1], token)
        self._refresh()

    def copy_token(self) -> None:
        token = self._auto_token()
        if token:
            QtWidgets.QApplication.clipboard().setText(token)
            self.view.flash(self.view.copy_token_button)

    def rotate_token(self) -> None:
        """A new auto token; a server using the old one restarts with it (its clients must reconnect)."""
        server = running_server()
        uses_it = server is not None and server.token_source == "auto"
        question = (
            "Make a new auto token? Clients of this user on this machine read it when they next connect; "
            "clients elsewhere need the new one copied to them."
        )
        if uses_it:
            question += " The server restarts with it: connected clients will be disconnected."
        others = [
            "{} (pid {})".format(discovery.runs_in(record), record.get("pid"))
            for record in sessions.live()
            if record.get("token_source") == "auto" and record.get("pid") != os.getpid()
        ]
        if others:
            question += (
                " Other sessions of yours use the auto token and keep the old one until they restart; this "
                "user's clients here are refused by them meanwhile: {}.".format(", ".join(others[:5]))
            )
        if not self._confirm(question):
            return
        try:
            tokens.rotate_auto_token()
            if uses_it and server is not None:
                restart_server(server.address[1], host=server.address[0], token="auto")
        except HrpycError as exc:
            self._refusal = str(exc)
        else:
            self._info(
                "New auto token written to {}. Local clients of this user read it when they connect; give it "
                "(Copy) to clients on other machines - the old one no longer works{}.".format(
                    tokens.auto_token_path(), "" if uses_it else " once the server restarts"
                )
            )
        self._show_token(self.view.show_token_button.isChecked())
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
        self.view.port_edit.setText(str(server.address[1]))  # the port actually bound (0 picks one)
        self._applied_token = wanted.token if wanted.credential == model.TYPED_TOKEN else ""
        self._error = self._refusal = ""
        self.view.offer_port(None)
        self._test.forget()  # its results were another server's
        # Only what a server took is remembered: a refused host or port is not worth starting again.
        self.settings.host, self.settings.port, self.settings.credential = (
            wanted.host,
            server.address[1],
            wanted.credential,
        )

    def _refused(self, exc: HrpycError, wanted: Wanted) -> None:
        self._refusal, free = model.refusal(exc, wanted.host, wanted.port)
        self.view.offer_port(free)
        self._log("{} error        {}".format(time.strftime("%H:%M:%S"), self._refusal))

    def _alive(self) -> bool:
        """False once the panel's widgets are gone (a closed pane tab): then stop listening."""
        if not self._closed and not QtCompat.isValid(self.view):
            self.close()
        return not self._closed

    def _show_event(self, event: events.ServerEvent) -> None:
        if not self._alive():
            return
        self._log(model.event_line(event))
        if event.kind == events.ERROR:
            self._error = event.message
        self._refresh()

    def _log(self, line: str) -> None:
        self.view.log.appendPlainText(line)

    def _info(self, text: str) -> None:
        self.view.info.setText(text)
        self.view.info.setVisible(bool(text))

    def _refresh(self) -> None:
        if not self._alive():
            return
        server = running_server()
        self.view.show_status(*model.status(server, self._error))
        rows = []
        for client in server.clients() if server is not None else []:
            last = time.strftime("%H:%M:%S", time.localtime(client.last_request_at)) if client.last_request_at else "-"
            since = time.strftime("%H:%M:%S", time.localtime(client.connected_at))
            name = "; ".join((model.client_name(client),) + client.jobs)  # and its jobs, as the API lists them
            rows.append((client.id, name, since, str(client.requests), last))
        self.view.show_clients(rows)
        wanted = self.requested()
        self.view.start_button.setEnabled(server is None and wanted is not None)
        self.view.stop_button.setEnabled(server is not None)
        self.view.apply_button.setEnabled(server is not None and wanted is not None and not self._same(server, wanted))
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

    def _on_host_choice(self, *_: Any) -> None:
        self.view.host_edit.setEnabled(not self.view.host_choice.currentData())
        self._validate()

    def _on_credential_choice(self, *_: Any) -> None:
        self.view.show_credential(self.view.credential_choice.currentData())
        self._show_token(self.view.show_token_button.isChecked())
        self._validate()

    def _show_token(self, shown: bool) -> None:
        """The auto token in its field, hidden until Show; created here if this user has none yet."""
        is_auto = self.view.credential_choice.currentData() == model.AUTO_TOKEN
        self.view.show_token(shown, self._auto_token() if is_auto and shown else "")
        self.view.auto_token.setPlaceholderText("hidden: Show or Copy it" if is_auto else "")

    def _auto_token(self) -> str:
        try:
            return tokens.auto_token() or ""
        except HrpycError as exc:  # an unsafe per-user folder: say so where the token would be
            self._refusal = "Token: {}".format(exc)
            self._refresh()
            return ""

    def _use_free_port(self) -> None:
        port = self.view.free_port_button.property("port")
        if port is not None:
            self.view.port_edit.setText(str(port))

    def _fill_fields(self) -> None:
        server = running_server()
        if server is not None:
            (host, port), credential = server.address, model.server_credential(server)
        else:
            host, port, credential = self.settings.host, self.settings.port, self.settings.credential
        values = [value for _, value in model.HOST_CHOICES]
        self.view.host_choice.setCurrentIndex(values.index(host) if host in values else len(values) - 1)
        self.view.host_edit.setText("" if host in values else host)
        self.view.host_edit.setEnabled(host not in values)
        self.view.port_edit.setText(str(port))
        kinds = [value for _, value in model.CREDENTIAL_CHOICES]
        self.view.credential_choice.setCurrentIndex(kinds.index(credential))
        if credential == model.TYPED_TOKEN:  # a token from HRPYC_TOKEN: the panel may show and test it
            self._applied_token = model.environment_token()
            self.view.token_edit.setText(self._applied_token)
        self.view.show_credential(credential)
        self.view.tls.setText(model.tls_text())
        if self.settings.problem:
            self.view.note.setText("Settings are not remembered: " + self.settings.problem)
            self.view.note.setVisible(True)
        elif self.settings.from_environment:
            self.view.note.setText(
                "Host, port and token come from the environment (HRPYC_AUTOSTART, HRPYC_HOST, HRPYC_PORT, "
                "HRPYC_TOKEN), which wins over the panel's remembered settings."
            )
            self.view.note.setVisible(True)

    def _remember(self, running: bool) -> None:
        self.settings.running = running
        self.settings.save()

    def _same(self, server: Any, wanted: Wanted) -> bool:
        """Would Apply change nothing? Same address, and the same credential (and typed token)."""
        if server.address[0] != wanted.host or wanted.port not in (0, server.address[1]):
            return False
        if model.server_credential(server) != wanted.credential:
            return False
        return wanted.credential != model.TYPED_TOKEN or wanted.token == self._applied_token

    def _ask(self, question: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self.view, "hrpyc", question)
        return answer == QtWidgets.QMessageBox.Yes
