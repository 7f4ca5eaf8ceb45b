"""The Qt main thread as a place to run requests, for a process with a Qt application outside Houdini
(the standalone panel, other Qt tools).

It uses the binding the process has already loaded rather than a shim's choice: requests must reach
*that* application's thread, and a process with both PySide2 and PySide6 installed runs only one.
"""

from __future__ import annotations

import collections
import importlib
import sys
from typing import Any, Callable, Deque, Optional

BINDINGS = ("PySide6", "PySide2")


def application_poster() -> Optional[Callable[[Callable[[], None]], None]]:
    """A function that queues a callable for the Qt application's thread, or None without one."""
    for binding in BINDINGS:
        if binding in sys.modules:
            QtCore = importlib.import_module(binding + ".QtCore")
            app = QtCore.QCoreApplication.instance()
            if app is not None:
                return _poster(QtCore, app)
    return None


def _poster(QtCore: Any, app: Any) -> Callable[[Callable[[], None]], None]:
    class Poster(QtCore.QObject):  # type: ignore[misc,name-defined]
        """Lives in the application's thread; callables wait in a deque until its slot runs there.

        The wake-up is QMetaObject.invokeMethod with a queued connection: emitting a signal or posting
        an event from a Python thread corrupts reference counts in PySide6 6.12 (measured: a crash
        within 30,000 wake-ups), invokeMethod does not.
        """

        def __init__(self) -> None:
            super().__init__()
            self._pending: Deque[Callable[[], None]] = collections.deque()
            self.moveToThread(app.thread())

        def post(self, fn: Callable[[], None]) -> None:
            self._pending.append(fn)  # deque appends and pops are atomic
            QtCore.QMetaObject.invokeMethod(self, "run_pending", QtCore.Qt.QueuedConnection)

        @QtCore.Slot()
        def run_pending(self) -> None:
            while self._pending:
                self._pending.popleft()()

    poster = Poster()
    poster.setParent(app)  # lives as long as the application
    return poster.post
