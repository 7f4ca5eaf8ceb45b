"""Server side: the hrpyc panel: is the server on, where, and who is connected - and change it without
code.

`create_widget()` for a pane tab, `show_floating()` for the shelf tool, `main()` for `hrpyc panel`.
Closing the panel never stops the server; every panel shows the process's one server.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

from .. import houdini
from .controller import PanelController
from .qt import QtCompat, QtCore, QtWidgets
from .view import PanelView

__all__ = ["create_widget", "main", "show_floating"]

_floating: Optional[Any] = None


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
    """`hrpyc panel`: the panel outside Houdini, serving this Python on the Qt main thread."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(list(argv or sys.argv[:1]))
    window = create_widget()
    window.resize(720, 560)
    window.show()
    return app.exec_() if hasattr(app, "exec_") else app.exec()
