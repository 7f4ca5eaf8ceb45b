"""Server side: hrpyc's demo scene, a small plain-Python `hou` that only `hrpyc serve --demo` serves (see
houdini.use_demo), so hrpyc - and client code, in CI too - can be tried without Houdini or a licence.

It is not Houdini and does not pass for it: it is the module `hrpyc._houdini.demo`, `applicationName()` says
"hrpyc demo", and the server tells every client (`server_info["demo"]`). It holds /obj/sphere1 (a geo object
holding a sphere SOP), /obj/geo1 (a grid SOP wired into a null named OUT), /obj/cam1 and /out/cache1 (a
geometry ROP writing /obj/geo1/OUT), with their parameters; geometry cooked from those parameters when asked
for (see demo_geometry); a frame and a scene file name (see demo_session); one Scene Viewer whose flipbook
draws that geometry into PNG files (see demo_viewport). /obj can also hold lights (`hlight`) and more geo
objects. No expressions, keyframes, flags, undo history, other UI or other node types; a string parameter
expands $HIP, $HIPNAME, $F and $F4 only; hipFile.save() and a ROP's render() write no file. Names and
signatures follow hou's, so code tried on the demo is code for Houdini (the README's examples run against it:
tests/test_demo.py).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from hrpyc._houdini import demo_geometry, demo_session, demo_viewport
from hrpyc._houdini.demo_geometry import (  # noqa: F401 - unused here, served: hou.Attrib, hou.Point...
    Attrib,
    Error,
    Geometry,
    OperationFailed,
    Point,
    Prim,
    Vector3,
    attribData,
    numericData,
)
from hrpyc._houdini.demo_session import fps, frame, hipFile, setFrame, time  # noqa: F401 - served
from hrpyc._houdini.demo_viewport import FlipbookSettings, GeometryViewport, SceneViewer, paneTabType  # noqa: F401 - served

Number = Any  # a parameter's value: float, int or str, the type of its default

_CENTER = (("t", "xyz", (0.0, 0.0, 0.0)),)
_TRANSFORM = (*_CENTER, ("r", "xyz", (0.0, 0.0, 0.0)), ("s", "xyz", (1.0, 1.0, 1.0)), ("scale", "", (1.0,)))
# type name: (category, the category of the children it holds, parameters as (tuple name, component
# suffixes, defaults), what it cooks from them)
_TYPES: Dict[str, Tuple[str, Optional[str], Tuple[Tuple[str, str, Tuple[Number, ...]], ...], Any]] = {
    "root": ("Manager", None, (), None),  # holds /obj, made by _build
    "obj": ("Manager", "Object", (), None),
    "geo": ("Object", "Sop", _TRANSFORM, None),
    "cam": ("Object", None, (*_TRANSFORM, ("res", "xy", (1920, 1080))), None),
    "hlight": (
        "Object",
        None,
        (*_TRANSFORM, ("light_intensity", "", (1.0,)), ("light_color", "rgb", (1.0, 1.0, 1.0))),
        None,
    ),
    "out": ("Manager", "Driver", (), None),
    "geometry": (  # the geometry ROP: writes a SOP's geometry to a file for each frame
        "Driver",
        None,
        (
            ("soppath", "", ("/obj/geo1/OUT",)),
            ("sopoutput", "", ("$HIP/geo/$HIPNAME.$F4.bgeo.sc",)),
            ("f", "123", (1.0, 240.0, 1.0)),
        ),
        None,
    ),
    "sphere": (
        "Sop",
        None,
        (*_CENTER, ("rad", "xyz", (1.0, 1.0, 1.0)), ("rows", "", (13,)), ("cols", "", (24,))),
        demo_geometry.sphere,
    ),
    "grid": (
        "Sop",
        None,
        (*_CENTER, ("size", "xy", (10.0, 10.0)), ("rows", "", (10,)), ("cols", "", (10,))),
        demo_geometry.grid,
    ),
    "null": ("Sop", None, (), None),  # passes on its first input's geometry
}


class Parm(object):
    """hou.Parm: one parameter; its value keeps the type of its default (float, int, str)."""

    def __init__(self, node: Node, name: str, default: Number, tuple_name: str) -> None:
        self._node, self._name, self._value, self._tuple = node, name, default, tuple_name

    def name(self) -> str:
        return self._name

    def path(self) -> str:
        return "{}/{}".format(self._node.path(), self._name)

    def node(self) -> Node:
        return self._node

    def tuple(self) -> ParmTuple:
        return ParmTuple(self._node, self._tuple)

    def eval(self) -> Number:
        return demo_session.expanded(self._value) if isinstance(self._value, str) else self._value

    def unexpandedString(self) -> str:
        if not isinstance(self._value, str):
            raise OperationFailed("{} is not a string parameter".format(self.path()))
        return self._value

    def set(self, value: Number) -> None:
        if isinstance(self._value, str):
            if not isinstance(value, str):
                raise TypeError("{} takes a string, not {!r}".format(self.path(), value))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("{} takes a number, not {!r}".format(self.path(), value))
        self._value = type(self._value)(value)
        demo_session.changed()

    def __repr__(self) -> str:
        return "<hou.Parm {} in {}>".format(self._name, self._node.path())


class ParmTuple(object):
    """hou.ParmTuple: the parameters one name groups (`t` holds tx, ty, tz)."""

    def __init__(self, node: Node, name: str) -> None:
        self._node, self._name = node, name
        self._parms = tuple(parm for parm in node.parms() if parm._tuple == name)

    def name(self) -> str:
        return self._name

    def node(self) -> Node:
        return self._node

    def eval(self) -> Tuple[Number, ...]:
        return tuple(parm.eval() for parm in self._parms)

    def set(self, values: Sequence[Number]) -> None:
        if len(values) != len(self._parms):
            raise TypeError("{}: give {} values, not {}".format(self._name, len(self._parms), len(values)))
        for parm, value in zip(self._parms, values):
            parm.set(value)

    def __getitem__(self, index: int) -> Parm:
        return self._parms[index]

    def __len__(self) -> int:
        return len(self._parms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParmTuple) and (other._node, other._name) == (self._node, self._name)

    def __hash__(self) -> int:
        return hash((self._node, self._name))

    def __repr__(self) -> str:
        return "<hou.ParmTuple {} in {}>".format(self._name, self._node.path())


class NodeType(object):
    """hou.NodeType, reduced to its name."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class Node(object):
    """hou.Node: a node of the scene. hou.node() gives the same object for a path, so `==` holds."""

    def __init__(self, parent: Optional[Node], name: str, type_name: str) -> None:
        self._parent, self._name, self._type = parent, name, type_name
        self._children: Dict[str, Node] = {}
        self._inputs: List[Optional[Node]] = []
        self._parms = tuple(
            Parm(self, tuple_name + suffix, default, tuple_name)
            for tuple_name, suffixes, defaults in _TYPES[type_name][2]
            for suffix, default in zip(suffixes or [""], defaults)
        )

    def name(self) -> str:
        return self._name

    def path(self) -> str:
        if self._parent is None:
            return "/"
        return self._parent.path().rstrip("/") + "/" + self._name

    def type(self) -> NodeType:
        return NodeType(self._type)

    def parent(self) -> Optional[Node]:
        return self._parent

    def children(self) -> Tuple[Node, ...]:
        return tuple(self._children.values())

    def node(self, path: str) -> Optional[Node]:
        """The node at `path`, absolute or relative to this one; None when there is none."""
        here: Optional[Node] = _root if path.startswith("/") else self
        for part in path.split("/"):
            if here is not None and part not in ("", "."):
                here = here._parent if part == ".." else here._children.get(part)
        return here

    def parm(self, name: str) -> Optional[Parm]:
        return next((parm for parm in self._parms if parm._name == name), None)

    def parms(self) -> Tuple[Parm, ...]:
        return self._parms

    def parmTuple(self, name: str) -> Optional[ParmTuple]:
        return ParmTuple(self, name) if any(parm._tuple == name for parm in self._parms) else None

    def parmTuples(self) -> Tuple[ParmTuple, ...]:
        names = dict.fromkeys(parm._tuple for parm in self._parms)  # in order, once each
        return tuple(ParmTuple(self, name) for name in names)

    def evalParm(self, name: str) -> Number:
        parm = self.parm(name)
        if parm is None:
            raise OperationFailed("{} has no parameter {!r}".format(self.path(), name))
        return parm.eval()

    def createNode(self, node_type_name: str, node_name: Optional[str] = None) -> Node:
        category = _TYPES.get(node_type_name, ("",))[0]
        if category != _TYPES[self._type][1]:
            raise OperationFailed("Invalid node type name {!r} inside {}".format(node_type_name, self.path()))
        if node_name is None:
            taken = self._children
            node_name = next(
                node_type_name + str(n) for n in range(1, len(taken) + 2) if node_type_name + str(n) not in taken
            )
        elif node_name in self._children or not node_name.replace("_", "a").isalnum():
            raise OperationFailed("{}: {!r} is taken or not a node name".format(self.path(), node_name))
        child = _CLASSES[category](self, node_name, node_type_name)
        self._children[node_name] = child
        demo_session.changed()
        return child

    def destroy(self) -> None:
        if self._parent is None or self._parent._parent is None:
            raise OperationFailed("the demo keeps {}".format(self.path()))
        del self._parent._children[self._name]
        demo_session.changed()

    def inputs(self) -> Tuple[Optional[Node], ...]:
        return tuple(self._inputs)

    def setInput(self, input_index: int, item_to_become_input: Optional[Node]) -> None:
        self._inputs.extend([None] * (input_index + 1 - len(self._inputs)))
        self._inputs[input_index] = item_to_become_input
        demo_session.changed()

    def __repr__(self) -> str:
        return "<hou.{} of type {} at {}>".format(type(self).__name__, self._type, self.path())


class ObjNode(Node):
    """hou.ObjNode: an object (/obj/sphere1)."""


class SopNode(Node):
    """hou.SopNode: a geometry node."""

    def geometry(self) -> Geometry:
        """Cooked from the parameters now; a null passes on its first input's."""
        cook = _TYPES[self._type][3]
        if cook is not None:
            return cook(**{t.name(): t.eval() if len(t) > 1 else t.eval()[0] for t in self.parmTuples()})
        source = self._inputs[0] if self._inputs else None
        return source.geometry() if isinstance(source, SopNode) else Geometry()


class RopNode(Node):
    """hou.RopNode: an output driver (/out/cache1)."""

    def render(self, frame_range: Sequence[float] = (), **options: Any) -> None:
        """Cook the SOP at each frame of `frame_range` ((start, end) or (start, end, step); empty: the node's
        f1-f3), as Houdini does, then put the frame back; the demo writes no file. `options` as hou's, unused."""
        start, end, step = (tuple(frame_range) + (1.0,))[:3] if frame_range else self.parmTuple("f").eval()  # type: ignore[union-attr]
        path = self.evalParm("soppath")
        source = node(path)
        if not isinstance(source, SopNode):
            raise OperationFailed("{}: {!r} is not a geometry node".format(self.path(), path))
        before, frame = demo_session.frame(), float(start)
        try:
            while frame <= end:
                setFrame(frame)
                source.geometry()
                frame += step if step > 0 else 1.0
        finally:
            setFrame(before)


_CLASSES = {"Manager": Node, "Object": ObjNode, "Sop": SopNode, "Driver": RopNode}


def _build() -> Node:
    top = Node(None, "", "root")
    obj = top._children["obj"] = Node(top, "obj", "obj")
    top._children["out"] = Node(top, "out", "out")
    top._children["out"].createNode("geometry", "cache1")
    obj.createNode("geo", "sphere1").createNode("sphere", "sphere1")
    geo = obj.createNode("geo", "geo1")
    geo.createNode("null", "OUT").setInput(0, geo.createNode("grid", "grid1"))
    obj.createNode("cam", "cam1").parmTuple("t").set((0.0, 2.0, 12.0))  # type: ignore[union-attr]
    hipFile.save()  # a new scene has nothing to save
    return top


_root = _build()


def node(path: str) -> Optional[Node]:
    """The node at an absolute path (`/obj/sphere1`), or None."""
    return _root.node(path)


def root() -> Node:
    return _root


def applicationName() -> str:
    return "hrpyc demo"


def applicationVersionString() -> str:
    return "demo"


def isUIAvailable() -> bool:
    """True: hou.ui is here, though it holds only the Scene Viewer (see demo_viewport)."""
    return True


ui = demo_viewport.ui_for(lambda: _root.node("obj"), frame)


class undos(object):
    """hou.undos: the demo keeps no undo history."""

    @staticmethod
    def areEnabled() -> bool:
        return False
