"""Server side: wires the panel's view to this process's server: buttons and fields in, events and status
out.

Server events arrive on the server's threads; qtloop's poster hands them to the GUI thread (a byte on
a socketpair wakes a QSocketNotifier there: no Qt call is made off that thread), so the widgets are
touched only where they live, and nothing here touches the network from the UI thread.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Tuple

from .. import events, qtloop
from ..address import format_address
from ..errors import HrpycError
from ..server import running_server, start_server, stop_server
from . import model
from .qt import QtCompat, QtCore, QtWidgets

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
        self.settings = settings or model.Settings()
        self._confirm = confirm or self._ask
        self._error = ""
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
        self._fill_fields()
        view.host_choice.currentIndexChanged.connect(self._on_host_choice)
        view.host_edit.textChanged.connect(self._validate)
        view.port_edit.textChanged.connect(self._validate)
        view.start_button.clicked.connect(self.start)
        view.stop_button.clicked.connect(self.stop)
        view.apply_button.clicked.connect(self.apply)
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

    def requested(self) -> Optional[Tuple[str, int]]:
        """The host and port in the fields, or None (the problem is shown)."""
        host = self.view.host_choice.currentData() or self.view.host_edit.text().strip()
        problem = (None if self.view.host_choice.currentData() else model.host_problem(host)) or model.port_problem(
            self.view.port_edit.text()
        )
        self.view.problem.setText(problem or "")
        return None if problem else (host, int(self.view.port_edit.text()))

    def start(self) -> None:
        wanted = self.requested()
        if wanted is None:
            return
        try:
            server = start_server(wanted[1], host=wanted[0])
            self.view.port_edit.setText(str(server.address[1]))  # the port actually bound (0 picks one)
            self._error = ""
        except HrpycError as exc:
            self._error = str(exc)
            self._log("{} error        {}".format(time.strftime("%H:%M:%S"), exc))
        self._remember(running=running_server() is not None)
        self._refresh()

    def stop(self) -> None:
        stop_server()
        self._error = ""
        self._remember(running=False)
        self._refresh()

    def apply(self) -> None:
        """New host or port while running: restart there, once the user agrees (clients are dropped)."""
        server, wanted = running_server(), self.requested()
        if server is None or wanted is None or self._same(server, wanted):
            return
        question = "Restart the server on {}? Connected clients will be disconnected.".format(format_address(*wanted))
        if self._confirm(question):
            stop_server()
            self.start()

    def disconnect_selected(self) -> None:
        server, client_id = running_server(), self.view.selected_client()
        if server is not None and client_id is not None:
            server.disconnect(client_id)

    def copy_snippet(self) -> None:
        server = running_server()
        if server is not None:
            QtWidgets.QApplication.clipboard().setText(model.snippet(server))

    def copy_log(self) -> None:
        QtWidgets.QApplication.clipboard().setText(self.view.log.toPlainText())

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

    def _refresh(self) -> None:
        if not self._alive():
            return
        server = running_server()
        self.view.show_status(*model.status(server, self._error))
        rows = []
        for client in server.clients() if server is not None else []:
            last = time.strftime("%H:%M:%S", time.localtime(client.last_request_at)) if client.last_request_at else "-"
            since = time.strftime("%H:%M:%S", time.localtime(client.connected_at))
            rows.append((client.id, format_address(*client.address), since, str(client.requests), last))
        self.view.show_clients(rows)
        wanted = self.requested()
        self.view.start_button.setEnabled(server is None and wanted is not None)
        self.view.stop_button.setEnabled(server is not None)
        self.view.apply_button.setEnabled(server is not None and wanted is not None and not self._same(server, wanted))
        self.view.snippet_button.setEnabled(server is not None)
        self._enable_disconnect()

    def _enable_disconnect(self) -> None:
        self.view.disconnect_button.setEnabled(running_server() is not None and self.view.selected_client() is not None)

    def _validate(self, *_: Any) -> None:
        self._refresh()

    def _on_host_choice(self, *_: Any) -> None:
        self.view.host_edit.setEnabled(not self.view.host_choice.currentData())
        self._refresh()

    def _fill_fields(self) -> None:
        server = running_server()
        host, port = server.address if server is not None else (self.settings.host, self.settings.port)
        values = [value for _, value in model.HOST_CHOICES]
        self.view.host_choice.setCurrentIndex(values.index(host) if host in values else len(values) - 1)
        self.view.host_edit.setText("" if host in values else host)
        self.view.host_edit.setEnabled(host not in values)
        self.view.port_edit.setText(str(port))
        if self.settings.problem:
            self.view.note.setText("Settings are not remembered: " + self.settings.problem)
            self.view.note.setVisible(True)
        elif self.settings.from_environment:
            self.view.note.setText(
                "Host and port come from the environment (HRPYC_AUTOSTART, HRPYC_HOST, HRPYC_PORT), "
                "which wins over the panel's remembered settings."
            )
            self.view.note.setVisible(True)

    def _remember(self, running: bool) -> None:
        wanted = self.requested()
        if wanted is not None:
            self.settings.host, self.settings.port = wanted
        self.settings.running = running
        self.settings.save()

    @staticmethod
    def _same(server: Any, wanted: Tuple[str, int]) -> bool:
        return server.address[0] == wanted[0] and wanted[1] in (0, server.address[1])

    def _ask(self, question: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self.view, "hrpyc", question)
        return answer == QtWidgets.QMessageBox.Yes
