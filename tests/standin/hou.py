"""A stand-in for Houdini's `hou`, for tests only: the documented behaviour hrpyc relies on, with the
signatures of the types-houdini stubs. Never shipped, never imported by product code.

- Node / Parm with `==` and `hash` as real hou objects define them.
- Houdini's global time is kept per thread; `_syncFromMainContext` / `_syncToMainContext` copy the main
  thread's time in and out, as in Houdini.
- Every call records its thread in `standin_calls`, so tests can tell where requests ran.
- A graphical session (HOU_STANDIN_UI=1) has one Scene Viewer whose flipbook writes PNGs as Houdini's
  does (each row filtered as libpng picks); HOU_STANDIN_FLIPBOOK=black makes it write a black picture, as
  a viewport that drew nothing does, and =none makes it write no file.
- `InterruptableOperation` keeps what it showed in `standin_operations`; `standin_press_escape()` plays the
  artist's Esc.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

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


class OperationInterrupted(Error):
    """What an InterruptableOperation's updates raise once the artist has pressed Esc."""

    _description = "The requested operation was interrupted"


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

    def tuple(self) -> ParmTuple:
        return ParmTuple(self._node, self._name, (self,))

    def set(self, value: object, language: object = None, follow_parm_reference: bool = True) -> None:
        _record("Parm.set")
        undos._changed("Change " + self._name)
        self._value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Parm) and other._node == self._node and other._name == self._name

    def __hash__(self) -> int:
        return hash((self._node.path(), self._name))


class ParmTuple(object):
    """hou.ParmTuple: `scale` is one parameter; `t` holds tx (and, in the stand-in, nothing else)."""

    def __init__(self, node: Node, name: str, parms: Tuple[Parm, ...]) -> None:
        self._node, self._name, self._parms = node, name, parms

    def name(self) -> str:
        return self._name

    def eval(self) -> Tuple[object, ...]:
        return tuple(parm.eval() for parm in self._parms)

    def set(self, values: Tuple[object, ...]) -> None:
        for parm, value in zip(self._parms, values):
            parm.set(value)

    def isAtDefault(self) -> bool:
        return all(parm.eval() == {"scale": 1.0}.get(parm.name(), 0.0) for parm in self._parms)

    def __len__(self) -> int:
        return len(self._parms)


class NodeType(object):
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class Node(object):
    def __init__(self, parent: Optional[Node], name: str, type_name: str = "null") -> None:
        self._parent, self._name, self._type = parent, name, type_name
        self._children: Dict[str, Node] = {}
        self._parms = {"scale": Parm(self, "scale", 1.0), "tx": Parm(self, "tx", 0.0)}
        self._inputs: List[Optional[Node]] = []
        self.standin_errors: Tuple[str, ...] = ()  # what its last cook reported, as a test sets it

    def type(self) -> NodeType:
        return NodeType(self._type)

    def errors(self) -> Tuple[str, ...]:
        return self.standin_errors

    def warnings(self) -> Tuple[str, ...]:
        return ()

    def parms(self) -> Tuple[Parm, ...]:
        return tuple(self._parms.values())

    def parmTuple(self, name: str) -> Optional[ParmTuple]:
        if name == "t":
            return ParmTuple(self, "t", (self._parms["tx"],))
        return self._parms[name].tuple() if name in self._parms else None

    def parmTuples(self) -> Tuple[ParmTuple, ...]:
        return (self._parms["scale"].tuple(), ParmTuple(self, "t", (self._parms["tx"],)))

    def setParms(self, parm_dict: Dict[str, Any], language: object = None) -> None:
        """Each named parameter (or parameter tuple, given a sequence) to its value in `parm_dict`, a
        mapping, read as hou's C++ reads one (rpyc passes a dict as a proxy, whose keys() hrpyc's client
        keeps to itself); OperationFailed for a name the node lacks."""
        _record("Node.setParms")
        for name in parm_dict:
            value, parm_tuple = parm_dict[name], self.parmTuple(name)
            if name in self._parms:
                self._parms[name].set(value)
            elif parm_tuple is not None:
                parm_tuple.set(value)
            else:
                raise OperationFailed("Invalid parameter name: {}".format(name))

    def inputs(self) -> Tuple[Optional[Node], ...]:
        return tuple(self._inputs)

    def setInput(self, input_index: int, item_to_become_input: Optional[Node], output_index: int = 0) -> None:
        undos._changed("Connect " + self._name)
        self._inputs.extend([None] * (input_index + 1 - len(self._inputs)))
        self._inputs[input_index] = item_to_become_input

    def outputs(self) -> Tuple[Node, ...]:
        siblings = self._parent._children.values() if self._parent is not None else ()
        return tuple(node for node in siblings if self in node._inputs)

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
        undos._changed("Create " + node_type_name)
        name = node_name or "{}{}".format(node_type_name, len(self._children) + 1)
        child = self._children[name] = Node(self, name, node_type_name)
        return child

    def geometry(self) -> Geometry:
        _record("Node.geometry")
        return Geometry(int(os.environ.get("HOU_STANDIN_POINTS", "1000")))

    def destroy(self, disable_safety_checks: bool = False) -> None:
        undos._changed("Delete " + self._name)
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
    return _find(path)


def nodes(node_paths: Sequence[str]) -> Tuple[Optional[Node], ...]:
    """As node() for each path (any sequence: rpyc passes a list as a proxy)."""
    _record("nodes")
    return tuple(_find(path) for path in node_paths)


def _find(path: str) -> Optional[Node]:
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


# The operations open, outermost first, and whether the artist has pressed Esc since the outermost opened.
_open_operations: List[InterruptableOperation] = []
_escape_pressed = threading.Event()
# Each operation that opened: [operation_name, long_operation_name, thread name, [(fraction, text), ...]]
standin_operations: List[list] = []


def standin_press_escape() -> None:
    """The artist presses Esc: heard only while an operation is open (Houdini's event loop polls the key
    for it); the operations' updates raise OperationInterrupted until the outermost one ends."""
    if _open_operations:
        _escape_pressed.set()


def standin_wait_for_escape(timeout: float) -> bool:
    """What a long cook or render does in C++ while it looks for the artist's Esc: returns once pressed."""
    return _escape_pressed.wait(timeout)


class InterruptableOperation(object):
    """hou.InterruptableOperation, as SideFX documents it: a context manager whose progress shows in the
    status line; updateProgress() / updateLongProgress() take a fraction from 0 to 1 (negative: none shown)
    and raise OperationInterrupted once the artist has pressed Esc. Operations nest; Esc interrupts them
    all until the outermost ends. Updates outside its `with` block raise OperationFailed. Only the
    fraction and text each update shows are kept (standin_operations); timeout_ms is not played."""

    def __init__(
        self,
        operation_name: str,
        long_operation_name: Optional[str] = None,
        open_interrupt_dialog: bool = False,
        timeout_ms: int = 0,
    ) -> None:
        self._names = [operation_name, long_operation_name]
        self._shown: List[Tuple[float, Optional[str]]] = []
        self._entered = False

    def __enter__(self) -> InterruptableOperation:
        _record("InterruptableOperation")
        self._entered = True
        _open_operations.append(self)
        standin_operations.append(self._names + [threading.current_thread().name, self._shown])
        return self

    def __exit__(self, *exc: object) -> None:
        _open_operations.remove(self)
        self._entered = False
        if not _open_operations:
            _escape_pressed.clear()

    def updateProgress(self, percentage: float = -1.0) -> None:
        self._update(percentage, None)

    def updateLongProgress(self, percentage: float = -1.0, long_op_status: Optional[str] = None) -> None:
        self._update(percentage, long_op_status)

    def _update(self, percentage: float, text: Optional[str]) -> None:
        if not self._entered:
            raise OperationFailed("InterruptableOperation used outside its with statement")
        if percentage >= 0 or text is not None:
            self._shown.append((percentage, text))
        if _escape_pressed.is_set():
            raise OperationInterrupted("Operation interrupted")


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
    def performUndo() -> bool:
        """Undo the last step: the stand-in forgets it (it does not put the scene back)."""
        return bool(undos.standin_history and undos.standin_history.pop())

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

    @staticmethod
    def paneTabOfType(type: str, index: int = 0) -> Optional[SceneViewer]:
        """The pane tab of that type (the index-th), or None: the session has one Scene Viewer."""
        return _viewer if type == paneTabType.SceneViewer and index == 0 else None


class paneTabType(object):
    SceneViewer, NetworkEditor = "paneTabType.SceneViewer", "paneTabType.NetworkEditor"


class FlipbookSettings(object):
    """hou.FlipbookSettings: each method reads its setting, or sets it when given a value."""

    def __init__(self) -> None:
        self._values: Dict[str, object] = {
            "frameRange": (1.0, 1.0),
            "output": "",
            "outputToMPlay": True,
            "useResolution": False,
            "resolution": (1280, 720),
        }

    def stash(self) -> FlipbookSettings:
        copy = FlipbookSettings()
        copy._values = dict(self._values)
        return copy

    def _setting(self, name: str, value: object) -> object:
        if value is None:
            return self._values[name]
        self._values[name] = value
        return None

    def frameRange(self, value: Optional[Tuple[float, float]] = None) -> object:
        return self._setting("frameRange", value)

    def output(self, value: Optional[str] = None) -> object:
        return self._setting("output", value)

    def outputToMPlay(self, value: Optional[bool] = None) -> object:
        return self._setting("outputToMPlay", value)

    def useResolution(self, value: Optional[bool] = None) -> object:
        return self._setting("useResolution", value)

    def resolution(self, value: Optional[Tuple[int, int]] = None) -> object:
        return self._setting("resolution", value)


class SceneViewer(object):
    """hou.SceneViewer: main thread only, as Houdini's UI is."""

    _settings = FlipbookSettings()

    def flipbookSettings(self) -> FlipbookSettings:
        return self._settings

    def curViewport(self) -> str:
        return "persp1"

    def flipbook(
        self, viewport: object = None, settings: Optional[FlipbookSettings] = None, open_dialog: bool = False
    ) -> None:
        _record("SceneViewer.flipbook")
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the stand-in's UI runs on the main thread only")
        settings = settings or self._settings
        first, last = settings.frameRange()  # type: ignore[misc]
        width, height = settings.resolution() if settings.useResolution() else (1280, 720)  # type: ignore[misc]
        kind = os.environ.get("HOU_STANDIN_FLIPBOOK", "")
        for frame in range(int(first), int(last) + 1):
            name = str(settings.output()).replace("$F4", "%04d" % frame)
            if kind != "none":
                with open(name, "wb") as handle:
                    handle.write(_png(width, height, black=kind == "black"))


_viewer = SceneViewer()


def _png(width: int, height: int, black: bool) -> bytes:
    """A picture as libpng writes one: 8-bit RGB, each row with one of PNG's five filters (by turns)."""
    import struct
    import zlib

    def pixel(x: int, y: int) -> Tuple[int, int, int]:
        return (0, 0, 0) if black else (40 + 150 * x // width, 50 + 100 * y // height, 120 if x > y else 60)

    rows = [bytes(value for x in range(width) for value in pixel(x, y)) for y in range(height)]
    raw, above = bytearray(), bytes(width * 3)
    for y, row in enumerate(rows):
        kind = y % 5
        raw.append(kind)
        for i, value in enumerate(row):
            left = row[i - 3] if i >= 3 else 0
            up, corner = above[i], above[i - 3] if i >= 3 else 0
            p = left + up - corner
            paeth = (
                left
                if abs(p - left) <= abs(p - up) and abs(p - left) <= abs(p - corner)
                else (up if abs(p - up) <= abs(p - corner) else corner)
            )
            predicted = (0, left, up, (left + up) // 2, paeth)[kind]
            raw.append((value - predicted) & 0xFF)
        above = row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")
    )
