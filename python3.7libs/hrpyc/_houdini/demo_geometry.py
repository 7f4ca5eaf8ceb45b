"""Server side: the geometry of hrpyc's demo scene (see hrpyc._houdini.demo): hou's Geometry, Point, Prim, Attrib and
Vector3, reduced to what the demo's sphere and grid SOPs cook, and those two cooks.

Positions are point attribute `P`; a grid also numbers its primitives in `id` (an int), so fetch_attrib
has both kinds to fetch. There are no vertex attributes.
"""

from __future__ import annotations

import array
import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

Values = List[Tuple[Any, ...]]  # one tuple per element (point or primitive)


class Error(Exception):
    """hou.Error: the base of the errors hou raises (`except hou.Error:` catches them all)."""


class OperationFailed(Error):
    """hou.OperationFailed: what hou raises when an operation cannot be done."""


class attribData(object):
    """hou.attribData: an attribute's data type."""

    Float, Int = "attribData.Float", "attribData.Int"


class numericData(object):
    """hou.numericData: how the *AttribValuesAsString methods pack values."""

    Float32, Float64 = "numericData.Float32", "numericData.Float64"
    Int32, Int64 = "numericData.Int32", "numericData.Int64"


_TYPECODES = {numericData.Float32: "f", numericData.Float64: "d", numericData.Int32: "i", numericData.Int64: "q"}


class Vector3(object):
    """hou.Vector3, reduced: three floats."""

    def __init__(self, *values: Any) -> None:
        values = tuple(values[0]) if len(values) == 1 else values or (0.0, 0.0, 0.0)
        if len(values) != 3:
            raise TypeError("Vector3 takes three numbers, or a sequence of three")
        self._values = tuple(float(value) for value in values)

    def x(self) -> float:
        return self._values[0]

    def y(self) -> float:
        return self._values[1]

    def z(self) -> float:
        return self._values[2]

    def length(self) -> float:
        return math.sqrt(sum(value * value for value in self._values))

    def __getitem__(self, index: int) -> float:
        return self._values[index]

    def __len__(self) -> int:
        return 3

    def __iter__(self) -> Iterator[float]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (Vector3, tuple, list)) and len(other) == 3 and self._values == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # as in hou: a vector is not hashable

    def __repr__(self) -> str:
        return "<hou.Vector3 [{:g}, {:g}, {:g}]>".format(*self._values)


class Attrib(object):
    """hou.Attrib: a named point or primitive attribute of one geometry."""

    def __init__(self, name: str, data_type: str, values: Values) -> None:
        self._name, self._type, self._values = name, data_type, values

    def name(self) -> str:
        return self._name

    def dataType(self) -> str:
        return self._type

    def size(self) -> int:
        return len(self._values[0]) if self._values else 1

    def __repr__(self) -> str:
        return "<hou.Attrib {} ({}, size {})>".format(self._name, self._type, self.size())


class Geometry(object):
    """hou.Geometry, reduced: points at `positions`, polygons as tuples of point numbers, and attributes."""

    def __init__(self, positions: Sequence[Sequence[float]] = (), polygons: Sequence[Tuple[int, ...]] = ()) -> None:
        self._polygons = list(polygons)
        self._attribs: Dict[Tuple[str, str], Attrib] = {}
        self._add("point", "P", attribData.Float, [tuple(float(x) for x in p) for p in positions])

    def _add(self, kind: str, name: str, data_type: str, values: Values) -> None:
        self._attribs[kind, name] = Attrib(name, data_type, values)

    def points(self) -> Tuple[Point, ...]:
        return tuple(Point(self, number) for number in range(len(self._attribs["point", "P"]._values)))

    def prims(self) -> Tuple[Prim, ...]:
        return tuple(Prim(self, number) for number in range(len(self._polygons)))

    def findPointAttrib(self, name: str) -> Optional[Attrib]:
        return self._attribs.get(("point", name))

    def findPrimAttrib(self, name: str) -> Optional[Attrib]:
        return self._attribs.get(("prim", name))

    def findVertexAttrib(self, name: str) -> Optional[Attrib]:
        return None

    def pointFloatAttribValues(self, name: str) -> Tuple[float, ...]:
        return tuple(self._flat("point", name, attribData.Float))

    def pointIntAttribValues(self, name: str) -> Tuple[int, ...]:
        return tuple(self._flat("point", name, attribData.Int))

    def primFloatAttribValues(self, name: str) -> Tuple[float, ...]:
        return tuple(self._flat("prim", name, attribData.Float))

    def primIntAttribValues(self, name: str) -> Tuple[int, ...]:
        return tuple(self._flat("prim", name, attribData.Int))

    def pointFloatAttribValuesAsString(self, name: str, float_type: str = numericData.Float32) -> bytes:
        return self._packed("point", name, attribData.Float, float_type)

    def pointIntAttribValuesAsString(self, name: str, int_type: str = numericData.Int32) -> bytes:
        return self._packed("point", name, attribData.Int, int_type)

    def primFloatAttribValuesAsString(self, name: str, float_type: str = numericData.Float32) -> bytes:
        return self._packed("prim", name, attribData.Float, float_type)

    def primIntAttribValuesAsString(self, name: str, int_type: str = numericData.Int32) -> bytes:
        return self._packed("prim", name, attribData.Int, int_type)

    def _attrib(self, kind: str, name: str) -> Attrib:
        attrib = self._attribs.get((kind, name))
        if attrib is None:
            raise OperationFailed("this geometry has no {} attribute {!r}".format(kind, name))
        return attrib

    def _flat(self, kind: str, name: str, data_type: str) -> List[Any]:
        attrib = self._attrib(kind, name)
        if attrib.dataType() != data_type:
            raise OperationFailed(
                "the {} attribute {!r} holds {}, not {}".format(kind, name, attrib.dataType(), data_type)
            )
        return [value for element in attrib._values for value in element]

    def _packed(self, kind: str, name: str, data_type: str, numeric_type: str) -> bytes:
        return array.array(_TYPECODES[numeric_type], self._flat(kind, name, data_type)).tobytes()

    def _value(self, kind: str, name: str, number: int) -> Any:
        attrib = self._attrib(kind, name)
        value = attrib._values[number]
        return value[0] if len(value) == 1 else value


class Point(object):
    """hou.Point: one point of a geometry."""

    def __init__(self, geometry: Geometry, number: int) -> None:
        self._geometry, self._number = geometry, number

    def number(self) -> int:
        return self._number

    def position(self) -> Vector3:
        return Vector3(self._geometry._value("point", "P", self._number))

    def attribValue(self, name: str) -> Any:
        return self._geometry._value("point", name, self._number)


class Prim(object):
    """hou.Prim: one polygon of a geometry."""

    def __init__(self, geometry: Geometry, number: int) -> None:
        self._geometry, self._number = geometry, number

    def number(self) -> int:
        return self._number

    def points(self) -> Tuple[Point, ...]:
        return tuple(Point(self._geometry, n) for n in self._geometry._polygons[self._number])

    def attribValue(self, name: str) -> Any:
        return self._geometry._value("prim", name, self._number)


def sphere(t: Sequence[float], rad: Sequence[float], rows: int, cols: int) -> Geometry:
    """A polygon sphere (the sphere SOP's parameters): a point at each pole, `rows - 2` rings of `cols`
    points between them, triangles at the poles and quads between rings."""
    rows, cols = max(3, rows), max(3, cols)
    positions = [(t[0], t[1] + rad[1], t[2])]
    for row in range(1, rows - 1):
        theta = math.pi * row / (rows - 1)
        for col in range(cols):
            phi = 2 * math.pi * col / cols
            x, y, z = math.sin(theta) * math.cos(phi), math.cos(theta), math.sin(theta) * math.sin(phi)
            positions.append((t[0] + rad[0] * x, t[1] + rad[1] * y, t[2] + rad[2] * z))
    positions.append((t[0], t[1] - rad[1], t[2]))

    def ring(row: int, col: int) -> int:
        return 1 + (row - 1) * cols + col % cols

    bottom, last_ring = len(positions) - 1, rows - 2
    polygons: List[Tuple[int, ...]] = [(0, ring(1, c + 1), ring(1, c)) for c in range(cols)]
    for r in range(1, last_ring):
        polygons += [(ring(r, c), ring(r, c + 1), ring(r + 1, c + 1), ring(r + 1, c)) for c in range(cols)]
    polygons += [(bottom, ring(last_ring, c), ring(last_ring, c + 1)) for c in range(cols)]
    return Geometry(positions, polygons)


def grid(t: Sequence[float], size: Sequence[float], rows: int, cols: int) -> Geometry:
    """A grid (the grid SOP's parameters) of `rows` x `cols` points on the XZ plane, quads between them,
    each quad's number in the primitive attribute `id`."""
    rows, cols = max(2, rows), max(2, cols)
    positions = [
        (t[0] + size[0] * (col / (cols - 1) - 0.5), t[1], t[2] + size[1] * (row / (rows - 1) - 0.5))
        for row in range(rows)
        for col in range(cols)
    ]
    polygons = [
        (r * cols + c, r * cols + c + 1, (r + 1) * cols + c + 1, (r + 1) * cols + c)
        for r in range(rows - 1)
        for c in range(cols - 1)
    ]
    geometry = Geometry(positions, polygons)
    geometry._add("prim", "id", attribData.Int, [(number,) for number in range(len(polygons))])
    return geometry
