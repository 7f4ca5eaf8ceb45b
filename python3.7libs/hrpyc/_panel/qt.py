"""Server side: the panel's one Qt import, through Qt.py: Houdini's own copy (hutil.Qt) inside Houdini, the
Qt.py package elsewhere; either picks PySide2 (Houdini <= 20.5) or PySide6 (Houdini 21 and 22).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Qt.py fills these at run time from PySide2 or PySide6; the panel writes what both take
    QtCompat: Any
    QtCore: Any
    QtGui: Any
    QtWidgets: Any
else:
    try:
        from hutil.Qt import QtCompat, QtCore, QtGui, QtWidgets
    except ImportError:
        try:
            from Qt import QtCompat, QtCore, QtGui, QtWidgets
        except ImportError as exc:
            raise ImportError(
                "the hrpyc panel needs Qt.py and PySide2 or PySide6 ({}); pip install Qt.py PySide6-Essentials "
                "(PySide2 on Python < 3.9) into this Python, or install hrpyc from its checkout or wheel with the "
                "[panel] extra".format(exc)
            ) from None

__all__ = ["QtCompat", "QtCore", "QtGui", "QtWidgets"]
