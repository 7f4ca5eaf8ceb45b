"""A stand-in for Houdini's `hou`, for tests only: the documented behaviour hrpyc relies on, with the
signatures of the types-houdini stubs. Never shipped, never imported by product code.

- Node / Parm with `==` and `hash` as real hou objects define them.
- Houdini's global time is kept per thread; `_syncFromMainContext` / `_syncToMainContext` copy the main
  thread's time in and out, as in Houdini.
- Every call records its thread in `standin_calls`, so tests can tell where requests ran.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Dict, List, Optional, Tuple

standin_calls: List[Tuple[str, str]] = []
_frames: Dict[int, float] = {}


def _record(name: str) -> None:
    standin_calls.append((name, threading.current_thread().name))


class Error(Exception):
    """hou.Error, the base of hou's exceptions, as SideFX's HOM_Errors.h builds them: str() is the class's
    description and the instance's message, on two lines."""

    _description = ""

    def __init__(self, instance_message: str = "") -> None:
        super().__init__(instance_message)
        self._message = instance_message

    def exceptionTypeName(self) -> str:
        return type(self).__name__

    def description(self) -> str:
        return self._description

    def instanceMessage(self) -> str:
        return self._message

    def __str__(self) -> str:
        lines = [self._description + "." if self._description else "", self._message]
        return "\n".join(line for line in lines if line)


class OperationFailed(Error):
    _description = "The attempted operation failed"


class InvalidInput(Error):
    _description = "Invalid input"


class ObjectWasDeleted(Error):
    _description = "Attempt to access an object that no longer exists in Houdini"


class PermissionError(Error):  # hou's own, named as the builtin is, as in Houdini
    pass


class Parm(object):
    def __init__(self, node: Node, name: str, value: object) -> None:
        self._node, self._name, self._value = node, name, value

    def name(self) -> str:
        return self._name

    def node(self) -> Node:
        return self._node

    def eval(self) -> object:
        _record("Parm.eval")
        return self._value

    def set(self, value: object, language: object = None, follow_parm_reference: bool = True) -> None:
        _record("Parm.set")
        undos._changed("Change " + self._name)
        self._value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Parm) and other._node == self._node and other._name == self._name

    def __hash__(self) -> int:
        return hash((self._node.path(), self._name))


class Node(object):
    def __init__(self, parent: Optional[Node], name: str, type_name: str = "null") -> None:
        self._parent, self._name, self._type = parent, name, type_name
        self._children: Dict[str, Node] = {}
        self._parms = {"scale": Parm(self, "scale", 1.0), "tx": Parm(self, "tx", 0.0)}

    def path(self) -> str:
        if self._parent is None:
            return "/"
        parent = self._parent.path()
        return parent.rstrip("/") + "/" + self._name

    def name(self) -> str:
        return self._name

    def parent(self) -> Optional[Node]:
        return self._parent

    def children(self) -> Tuple[Node, ...]:
        _record("Node.children")
        return tuple(self._children.values())

    def parm(self, parm_path: str) -> Optional[Parm]:
        _record("Node.parm")
        return self._parms.get(parm_path)

    def createNode(
        self,
        node_type_name: str,
        node_name: Optional[str] = None,
        run_init_scripts: bool = True,
        load_contents: bool = True,
        exact_type_name: bool = False,
        force_valid_node_name: bool = False,
    ) -> Node:
        _record("Node.createNode")
        if not re.match(r"^[\w:.]+$", node_type_name):  # Houdini knows no such type
            raise OperationFailed("Invalid node type name")
        name = node_name or "{}{}".format(node_type_name, len(self._children) + 1)
        child = self._children[name] = Node(self, name, node_type_name)
        return child

    def geometry(self) -> Geometry:
        _record("Node.geometry")
        return Geometry(int(os.environ.get("HOU_STANDIN_POINTS", "1000")))

    def destroy(self, disable_safety_checks: bool = False) -> None:
        if self._parent is not None:
            self._parent._children.pop(self._name, None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other.path() == self.path()

    def __hash__(self) -> int:
        return hash(self.path())

    def __repr__(self) -> str:
        return "<hou.Node {}>".format(self.path())


_root = Node(None, "")
for _name in ("obj", "out", "stage", "mat"):
    _root._children[_name] = Node(_root, _name, "manager")
_obj = _root._children["obj"]
_obj._children["sphere1"] = Node(_obj, "sphere1", "geo")


def node(path: str) -> Optional[Node]:
    _record("node")
    current: Optional[Node] = _root
    for part in [p for p in path.split("/") if p]:
        current = current._children.get(part) if current is not None else None
    return current


def applicationVersionString() -> str:
    return os.environ.get("HOU_STANDIN_VERSION", "19.0.720")


def applicationVersion() -> Tuple[int, ...]:
    return tuple(int(part) for part in applicationVersionString().split("."))


def applicationName() -> str:
    return os.environ.get("HOU_STANDIN_APP") or ("houdini" if isUIAvailable() else "hython")


class _HipFile(object):
    def path(self) -> str:
        return os.environ.get("HOU_STANDIN_SCENE", "untitled.hip")


hipFile = _HipFile()


def houdiniPath(pathvar: Optional[str] = None) -> Tuple[str, ...]:
    """HOUDINI_PATH as Houdini searches it: its own entries (packages prepend theirs, '&' stands for
    the defaults), then the defaults - the user's preferences, the site's, then $HFS/houdini."""
    entries = [p for p in os.environ.get("HOUDINI_PATH", "").split(os.pathsep) if p and p != "&"]
    release = ".".join(applicationVersionString().split(".")[:2])
    defaults = [
        os.environ.get("HOUDINI_USER_PREF_DIR", ""),
        os.path.join(os.environ["HSITE"], "houdini" + release) if os.environ.get("HSITE") else "",
        os.path.join(os.environ["HFS"], "houdini") if os.environ.get("HFS") else "",
    ]
    return tuple(entries + [d for d in defaults if d])


standin_sourced: List[str] = []


def hscript(command: str) -> Tuple[str, ...]:
    """Only `source FILE`, which the stand-in records and announces (it cannot run HScript)."""
    verb, _, argument = command.partition(" ")
    if verb != "source":
        raise NotImplementedError("the stand-in hou runs only `source FILE`, not " + repr(command))
    path = argument.strip().strip("'\"")
    standin_sourced.append(path)
    print("houdini: hscript source " + path, flush=True)
    return ("", "")


def isUIAvailable() -> bool:
    return os.environ.get("HOU_STANDIN_UI") == "1"


def frame(full_precision: bool = False) -> float:
    _record("frame")
    return _frames.get(threading.get_ident(), 1.0)


def setFrame(frame: float) -> None:
    _record("setFrame")
    _frames[threading.get_ident()] = float(frame)


def _syncFromMainContext() -> None:
    _frames[threading.get_ident()] = _frames.get(threading.main_thread().ident or 0, 1.0)


def _syncToMainContext() -> None:
    # HOU_STANDIN_SYNC_SECONDS: how long the copy takes (Houdini takes its HOM lock for it, which
    # the main thread may be holding), so tests can show nothing reads the time before it is done.
    # Unset, it costs what a C++ call does: time.sleep(0) would sleep the kernel's timer slack (~50 us).
    seconds = float(os.environ.get("HOU_STANDIN_SYNC_SECONDS", "0"))
    if seconds > 0:
        time.sleep(seconds)
    _frames[threading.main_thread().ident or 0] = _frames.get(threading.get_ident(), 1.0)


class qt(object):
    """hou.qt: Houdini's main window (created on first use with the binding the process loaded)."""

    _main_window = None

    @classmethod
    def mainWindow(cls):
        if cls._main_window is None:
            from Qt import QtWidgets

            cls._main_window = QtWidgets.QMainWindow()
        return cls._main_window


class numericData(object):
    Float32, Float64, Int32, Int64 = "Float32", "Float64", "Int32", "Int64"


class attribData(object):
    Float, Int, String = "Float", "Int", "String"


class Attrib(object):
    def __init__(self, name: str, data_type: str, size: int) -> None:
        self._name, self._type, self._size = name, data_type, size

    def name(self) -> str:
        return self._name

    def dataType(self) -> str:
        return self._type

    def size(self) -> int:
        return self._size


class Geometry(object):
    """Points on a line: P = (i, 2i, 3i), id = i - what the attribute-buffer calls of hou return, packed."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._attribs = {"P": Attrib("P", attribData.Float, 3), "id": Attrib("id", attribData.Int, 1)}

    def findPointAttrib(self, name: str) -> Optional[Attrib]:
        return self._attribs.get(name)

    def pointFloatAttribValuesAsString(self, name: str, float_type: str = numericData.Float32) -> bytes:
        import array

        _record("Geometry.pointFloatAttribValuesAsString")
        values = [float(i * k) for i in range(self._count) for k in (1, 2, 3)]
        return array.array("f" if float_type == numericData.Float32 else "d", values).tobytes()

    def pointIntAttribValuesAsString(self, name: str, int_type: str = numericData.Int32) -> bytes:
        import array

        return array.array("i" if int_type == numericData.Int32 else "q", range(self._count)).tobytes()


class UndosGroup(object):
    """hou.undos.group(label): everything done until it exits is one step named `label`; groups nest
    (the outermost names the step); an empty group leaves no entry."""

    def __init__(self, label: str) -> None:
        self._label = label

    def __enter__(self) -> UndosGroup:
        undos._open.append((self._label, len(undos.standin_history)))
        return self

    def __exit__(self, *exc: object) -> None:
        label, mark = undos._open.pop()
        if not undos._open and len(undos.standin_history) > mark:
            del undos.standin_history[mark:]
            undos.standin_history.append(label)


class undos(object):
    """hou.undos: one undo history for the whole session, newest last in `standin_history`."""

    standin_history: List[str] = []
    _open: List[Tuple[str, int]] = []

    @staticmethod
    def areEnabled() -> bool:
        return True

    @staticmethod
    def group(label: str) -> UndosGroup:
        return UndosGroup(label)

    @staticmethod
    def undoLabels() -> Tuple[str, ...]:
        """The steps that Edit > Undo would undo, the next one first."""
        return tuple(reversed(undos.standin_history))

    @staticmethod
    def _changed(label: str) -> None:
        undos.standin_history.append(label)


class ui(object):
    """hou.ui's modal dialogs (graphical sessions): they block the main thread until the user answers,
    and Houdini's event loop runs none of hdefereval's deferred calls meanwhile. `standin_dismiss()`
    plays the user's click."""

    _answered = threading.Event()
    standin_open: List[str] = []

    @staticmethod
    def displayMessage(
        text: str, buttons: Tuple[str, ...] = ("OK",), title: Optional[str] = None, **kwargs: object
    ) -> int:
        _record("ui.displayMessage")
        ui.standin_open.append(title or "Houdini")
        ui._answered.wait()
        ui._answered.clear()
        ui.standin_open.pop()
        return 0

    @staticmethod
    def standin_dismiss() -> None:
        ui._answered.set()
