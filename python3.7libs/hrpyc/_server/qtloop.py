"""Server side: the Qt main thread as a place to run requests, for a process with a Qt application outside
Houdini (the standalone panel, other Qt tools), and the way the panel hears server events on it.

It uses the binding the process has already loaded rather than a shim's choice: requests must reach
*that* application's thread, and a process with both PySide2 and PySide6 installed runs only one.

No Qt API is called off the Qt thread. Other threads append to a deque and write a byte to a
socketpair; a QSocketNotifier in the Qt thread wakes on it and runs what is queued. (PySide6 6.12
corrupts reference counts when a Python thread emits a signal, posts an event or calls invokeMethod,
and cannot even read `Qt.QueuedConnection` there; measured crashes within 30,000 wake-ups.)
"""

from __future__ import annotations

import collections
import importlib
import socket
import sys
import threading
from typing import Any, Callable, Deque, Dict, Optional

BINDINGS = ("PySide6", "PySide2")

Post = Callable[[Callable[[], None]], None]

_lock = threading.Lock()
_posters: Dict[int, _Poster] = {}


def application_poster() -> Optional[Post]:
    """A function that queues a callable for the Qt application's thread; None without an application,
    or when called off its thread (where the wake-up cannot be set up)."""
    for binding in BINDINGS:
        if sys.modules.get(binding) is not None:  # None: an import that failed or was blocked
            QtCore = importlib.import_module(binding + ".QtCore")
            app = QtCore.QCoreApplication.instance()
            if app is None or threading.current_thread() is not threading.main_thread():
                return None
            with _lock:
                poster = _posters.get(id(app))
                if poster is None:
                    poster = _posters[id(app)] = _Poster(QtCore, app)
            return poster.post
    return None


class _Poster(object):
    """Lives as long as the application; one per application, however many servers and panels."""

    def __init__(self, QtCore: Any, app: Any) -> None:
        self._pending: Deque[Callable[[], None]] = collections.deque()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._notifier = QtCore.QSocketNotifier(self._reader.fileno(), QtCore.QSocketNotifier.Read, app)
        self._notifier.activated.connect(self._run)

    def post(self, fn: Callable[[], None]) -> None:
        self._pending.append(fn)  # deque appends and pops are atomic
        try:
            self._writer.send(b"\0")
        except OSError:
            pass  # the socket buffer is full: a wake-up is already waiting

    def _run(self, *_: Any) -> None:
        try:
            while self._reader.recv(4096):
                pass
        except OSError:
            pass  # drained
        while self._pending:
            self._pending.popleft()()
