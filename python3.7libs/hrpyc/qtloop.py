"""The Qt main thread as a place to run requests, for a process with a Qt application outside Houdini
(the standalone panel, other Qt tools).

It uses the binding the process has already loaded rather than a shim's choice: requests must reach
*that* application's thread, and a process with both PySide2 and PySide6 installed runs only one.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Optional

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
        """Lives in the application's thread; a queued signal carries each callable to it."""

        posted = QtCore.Signal(object)

        def __init__(self) -> None:
            super().__init__()
            self.moveToThread(app.thread())
            self.posted.connect(self._run, QtCore.Qt.QueuedConnection)

        def _run(self, fn: Callable[[], None]) -> None:
            fn()

    poster = Poster()
    poster.setParent(app)  # lives as long as the application
    return poster.posted.emit
