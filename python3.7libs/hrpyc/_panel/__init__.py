"""Server side: the hrpyc panel: is the server on, where, and who is connected - and change it without
code.

`create_widget()` for a pane tab, `show_floating()` for the shelf tool, `main()` for `hrpyc panel`.
Closing the panel never stops the server; every panel shows the process's one server.
"""

from __future__ import annotations

import signal
import socket
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Sequence

from hrpyc._houdini import houdini
from hrpyc._oslayer import console
from hrpyc._panel.controller import PanelController
from hrpyc._panel.qt import QtCompat, QtCore, QtWidgets
from hrpyc._panel.view import PanelView
from hrpyc._server.lifecycle import stop_server

__all__ = ["create_widget", "main", "show_floating"]

_floating: Any = None


def create_widget(parent: Any = None) -> Any:
    """A new panel widget, wired to this process's server."""
    view = PanelView(parent)
    view.controller = PanelController(view)
    return view


def show_floating() -> Any:
    """The shelf tool: one floating window over Houdini's main window; a second click raises it."""
    global _floating
    if _floating is None or not QtCompat.isValid(_floating):
        _floating = create_widget(houdini.main_window())
        _floating.setWindowFlags(QtCore.Qt.Window)
        _floating.resize(720, 560)
    _floating.show()  # again, if the user closed it
    _floating.raise_()
    _floating.activateWindow()
    return _floating


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`hrpyc panel`: the panel outside Houdini, serving this Python on the Qt main thread, until its
    window closes or Ctrl-C in its terminal."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(list(argv or sys.argv[:1]))
    window = create_widget()
    window.resize(760, 640)
    window.show()
    with _quit_on_ctrl_c(app):
        print("hrpyc: the panel is open; close it, or press Ctrl-C here", flush=True)
        code = app.exec_() if hasattr(app, "exec_") else app.exec()
    stop_server()  # its session record goes with it, not at the next look-up
    return code


@contextmanager
def _quit_on_ctrl_c(app: Any) -> Iterator[None]:
    """Ctrl-C (and Windows' Ctrl-Break) quits the Qt loop. Qt's loop runs no Python while idle, so a Python
    signal handler would wait for the next event; instead the signal's number goes to a socketpair
    (signal.set_wakeup_fd), whose QSocketNotifier quits the loop - also when Ctrl-C came before the loop began."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    notifier = QtCore.QSocketNotifier(reader.fileno(), QtCore.QSocketNotifier.Read)
    interrupts = console.interrupts()
    notifier.activated.connect(lambda *_: app.quit() if set(_drain(reader)) & set(interrupts) else None)
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    # the notifier acts; no KeyboardInterrupt
    previous = {number: signal.signal(number, lambda *_: None) for number in interrupts}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        reader.close()
        writer.close()


def _drain(sock: socket.socket) -> bytes:
    """The signal numbers waiting on `sock`."""
    received = b""
    try:
        while True:
            chunk = sock.recv(512)
            if not chunk:
                break
            received += chunk
    except OSError:
        pass  # drained
    return received
