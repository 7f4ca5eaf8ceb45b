"""Server side: the demo scene's viewport (see hrpyc._houdini.demo): `hou.ui` reduced to one Scene Viewer whose
flipbook draws the scene into PNG files (hrpyc._common.png), so viewport captures - `hrpyc mcp`'s houdini_capture,
or client code that flipbooks - can be tried and tested without Houdini.

It draws what each geo object's displayed SOP cooks (the last SOP that feeds no other: the demo has no
flags), moved by the object's transform, as seen through the first camera in /obj (45 degrees across):
flat-shaded polygons with darker edges over a grey gradient, hidden by a depth buffer. Names and signatures
follow hou's (hou.ui.paneTabOfType, hou.SceneViewer.flipbook, hou.FlipbookSettings).
"""

from __future__ import annotations

import array
import math
import re
from typing import Any, Callable, List, Optional, Sequence, Tuple

from hrpyc._common import png
from hrpyc._houdini.demo_geometry import OperationFailed

Vector = Tuple[float, float, float]
VIEWPORT_SIZE = (800, 450)  # the demo viewport's pixels, what a flipbook draws unless told a resolution
FIELD_OF_VIEW = math.radians(45.0)  # across: a Houdini camera's default 50 mm lens on its 41.4214 mm aperture
_FRAME_NUMBER = re.compile(r"\$F(\d*)")
_LIGHT = (0.3, 0.5, 0.81)  # towards the key light, in camera space: from above, a little to the left
_SURFACE = {"sphere": (0.85, 0.62, 0.35), "grid": (0.6, 0.66, 0.72)}  # by the SOP type that cooks it


class paneTabType(object):
    """hou.paneTabType, the members the demo knows."""

    SceneViewer = "paneTabType.SceneViewer"
    NetworkEditor = "paneTabType.NetworkEditor"
    Parm = "paneTabType.Parm"


class FlipbookSettings(object):
    """hou.FlipbookSettings: each method reads its setting, or sets it when given a value."""

    def __init__(self) -> None:
        self._range: Tuple[float, float] = (1.0, 1.0)
        self._output, self._mplay, self._use_resolution = "", True, False
        self._resolution = VIEWPORT_SIZE

    def stash(self) -> FlipbookSettings:
        """A copy to change without changing the dialog's own settings."""
        copy = FlipbookSettings()
        copy.__dict__.update(self.__dict__)
        return copy

    def frameRange(self, value: Optional[Sequence[float]] = None) -> Optional[Tuple[float, float]]:
        if value is None:
            return self._range
        self._range = (float(value[0]), float(value[1]))
        return None

    def output(self, value: Optional[str] = None) -> Optional[str]:
        if value is None:
            return self._output
        self._output = str(value)
        return None

    def outputToMPlay(self, value: Optional[bool] = None) -> Optional[bool]:
        if value is None:
            return self._mplay
        self._mplay = bool(value)
        return None

    def useResolution(self, value: Optional[bool] = None) -> Optional[bool]:
        if value is None:
            return self._use_resolution
        self._use_resolution = bool(value)
        return None

    def resolution(self, value: Optional[Tuple[int, int]] = None) -> Optional[Tuple[int, int]]:
        if value is None:
            return self._resolution
        width, height = int(value[0]), int(value[1])
        if not (0 < width <= 8192 and 0 < height <= 8192):
            raise OperationFailed("a flipbook resolution of {} x {} pixels".format(width, height))
        self._resolution = (width, height)
        return None


class GeometryViewport(object):
    """hou.GeometryViewport: the Scene Viewer's one viewport."""

    def name(self) -> str:
        return "persp1"


class SceneViewer(object):
    """hou.SceneViewer: the demo's one viewport and its flipbook. `scene()` gives the demo's /obj."""

    def __init__(self, scene: Callable[[], Any], frame: Callable[[], float]) -> None:
        self._scene, self._frame = scene, frame
        self._settings, self._viewport = FlipbookSettings(), GeometryViewport()

    def type(self) -> str:
        return paneTabType.SceneViewer

    def curViewport(self) -> GeometryViewport:
        return self._viewport

    def flipbookSettings(self) -> FlipbookSettings:
        return self._settings

    def flipbook(
        self,
        viewport: Optional[GeometryViewport] = None,
        settings: Optional[FlipbookSettings] = None,
        open_dialog: bool = False,
    ) -> None:
        """Draw each frame of the settings' range into their output file ($F, $F4 numbering the frames).
        The demo has no MPlay: it needs an output file."""
        settings = settings or self._settings
        if not settings._output:
            raise OperationFailed("the demo has no MPlay to flipbook into: set an output file")
        width, height = settings._resolution if settings._use_resolution else VIEWPORT_SIZE
        first, last = settings._range
        frame = first
        while frame <= last:
            with open(_numbered(settings._output, round(frame)), "wb") as handle:
                handle.write(draw(self._scene(), width, height))
            frame += 1.0


def _numbered(path: str, frame: int) -> str:
    """`path` with $F and $F4 (padded to 4 digits) replaced by the frame number, as Houdini does."""
    return _FRAME_NUMBER.sub(lambda found: str(frame).zfill(int(found.group(1) or 1)), path)


class _UI(object):
    """hou.ui: only paneTabOfType, and only the Scene Viewer."""

    def __init__(self, viewer: SceneViewer) -> None:
        self._viewer = viewer

    def paneTabOfType(self, type: str, index: int = 0) -> Optional[SceneViewer]:
        return self._viewer if type == paneTabType.SceneViewer and index == 0 else None


def ui_for(scene: Callable[[], Any], frame: Callable[[], float]) -> _UI:
    """The demo's `hou.ui`, showing the scene `scene()` gives (its /obj)."""
    return _UI(SceneViewer(scene, frame))


def draw(objects: Any, width: int, height: int) -> bytes:
    """The scene under `objects` (/obj) as a PNG of width x height pixels."""
    camera = next((node for node in objects.children() if node.type().name() == "cam"), None)
    eye = _transform(camera) if camera is not None else ((0.0, 2.0, 12.0), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    focal = width / 2.0 / math.tan(FIELD_OF_VIEW / 2)
    polygons: List[Tuple[List[Vector], Tuple[int, int, int]]] = []
    for node in objects.children():
        shown = _displayed(node) if node.type().name() == "geo" else None
        if shown is None:
            continue
        place = _transform(node)
        geometry = shown.geometry()
        positions = [_to_camera(_to_world(point.position(), place), eye) for point in geometry.points()]
        surface = _SURFACE.get(shown.type().name(), (0.7, 0.7, 0.7))
        for prim in geometry.prims():
            corners = [positions[point.number()] for point in prim.points()]
            if len(corners) < 3 or any(z > -0.05 for _, _, z in corners):  # behind the camera, or at it
                continue
            # on screen: x, y in pixels, and 1 / distance, which is linear across the polygon there
            on_screen = [(width / 2.0 + focal * x / -z, height / 2.0 - focal * y / -z, -1.0 / z) for x, y, z in corners]
            polygons.append((on_screen, _shade(corners, surface)))
    rows = [bytearray(_background(y, height) * width) for y in range(height)]
    nearest = [array.array("f", bytes(4 * width)) for _ in range(height)]  # 1 / distance drawn; 0: nothing
    for corners, colour in polygons:
        for triangle in ([corners[0], corners[i], corners[i + 1]] for i in range(1, len(corners) - 1)):
            _fill(rows, nearest, triangle, bytes(colour))
    for corners, colour in polygons:
        _outline(rows, nearest, corners, bytes(c * 3 // 5 for c in colour))
    return png.encode(width, height, rows)


def _displayed(geo: Any) -> Optional[Any]:
    """The SOP a geo object shows: the last of its SOPs that feeds no other."""
    sops = geo.children()
    fed = {id(source) for sop in sops for source in sop.inputs() if source is not None}
    shown = [sop for sop in sops if id(sop) not in fed]
    return shown[-1] if shown else None


Transform = Tuple[Sequence[float], Sequence[float], Sequence[float]]  # translate, rotate (degrees), scale


def _transform(node: Any) -> Transform:
    def values(name: str, default: Vector) -> Sequence[float]:
        parm_tuple = node.parmTuple(name)
        return parm_tuple.eval() if parm_tuple is not None else default

    uniform = node.parm("scale").eval() if node.parm("scale") is not None else 1.0
    scale = tuple(s * uniform for s in values("s", (1.0, 1.0, 1.0)))
    return values("t", (0.0, 0.0, 0.0)), values("r", (0.0, 0.0, 0.0)), scale


def _rotate(point: Sequence[float], degrees: Sequence[float], inverse: bool = False) -> Vector:
    """Rotate about X, then Y, then Z (Houdini's default order); `inverse` undoes that."""
    x, y, z = point
    axes = [(0, degrees[0]), (1, degrees[1]), (2, degrees[2])]
    for axis, angle in reversed(axes) if inverse else axes:
        a = math.radians(-angle if inverse else angle)
        c, s = math.cos(a), math.sin(a)
        if axis == 0:
            y, z = y * c - z * s, y * s + z * c
        elif axis == 1:
            x, z = x * c + z * s, -x * s + z * c
        else:
            x, y = x * c - y * s, x * s + y * c
    return x, y, z


def _to_world(point: Sequence[float], place: Transform) -> Vector:
    translate, rotate, scale = place
    x, y, z = _rotate([p * s for p, s in zip(point, scale)], rotate)
    return x + translate[0], y + translate[1], z + translate[2]


def _to_camera(point: Vector, eye: Transform) -> Vector:
    """Where `point` is as the camera sees it: the camera looks down its -Z."""
    translate, rotate, _ = eye
    return _rotate([p - t for p, t in zip(point, translate)], rotate, inverse=True)


def _shade(corners: Sequence[Vector], surface: Vector) -> Tuple[int, int, int]:
    """A polygon's colour: its surface lit by the key light from either side, plus some ambient light."""
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = corners[0], corners[1], corners[2]
    ux, uy, uz, vx, vy, vz = bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az
    nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
    length = math.sqrt(nx * nx + ny * ny + nz * nz) or 1.0
    light = abs(nx * _LIGHT[0] + ny * _LIGHT[1] + nz * _LIGHT[2]) / length
    return tuple(min(255, int(255 * c * (0.25 + 0.75 * light))) for c in surface)  # type: ignore[return-value]


def _background(y: int, height: int) -> bytes:
    """Houdini's viewport grey, lighter at the top."""
    level = int(72 - 36 * y / max(1, height - 1))
    return bytes((level, level, level + 6))


def _plane(corners: List[Vector]) -> Tuple[float, float, float]:
    """(a, b, c) with 1 / distance = a * x + b * y + c across a triangle on screen."""
    (x0, y0, w0), (x1, y1, w1), (x2, y2, w2) = corners
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    if abs(area) < 1e-9:
        return 0.0, 0.0, max(w0, w1, w2)
    a = ((w1 - w0) * (y2 - y0) - (w2 - w0) * (y1 - y0)) / area
    b = ((x1 - x0) * (w2 - w0) - (x2 - x0) * (w1 - w0)) / area
    return a, b, w0 - a * x0 - b * y0


def _fill(rows: List[bytearray], nearest: List[Any], corners: List[Vector], colour: bytes) -> None:
    """Paint a triangle where it is nearer than what is drawn: for each pixel row its centre crosses, the
    span between its edges."""
    height, width = len(rows), len(rows[0]) // 3
    a, b, c = _plane(corners)
    top = max(0, math.ceil(min(y for _, y, _ in corners) - 0.5))
    bottom = min(height - 1, math.floor(max(y for _, y, _ in corners) - 0.5))
    edges = list(zip(corners, corners[1:] + corners[:1]))
    for row in range(top, bottom + 1):
        centre = row + 0.5
        crossings = [
            x0 + (centre - y0) * (x1 - x0) / (y1 - y0)
            for (x0, y0, _), (x1, y1, _) in edges
            if (y0 <= centre < y1) or (y1 <= centre < y0)
        ]
        if len(crossings) < 2:
            continue
        left = max(0, math.ceil(min(crossings) - 0.5))
        right = min(width, math.ceil(max(crossings) - 0.5))
        line, depth, start = rows[row], nearest[row], b * centre + c
        for x in range(left, right):
            w = a * (x + 0.5) + start
            if w > depth[x]:
                depth[x] = w
                line[x * 3 : x * 3 + 3] = colour


def _outline(rows: List[bytearray], nearest: List[Any], corners: List[Vector], colour: bytes) -> None:
    """Draw a polygon's edges one pixel wide where they are not hidden."""
    height, width = len(rows), len(rows[0]) // 3
    for (x0, y0, w0), (x1, y1, w1) in zip(corners, corners[1:] + corners[:1]):
        steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        for step in range(steps + 1):
            share = step / steps
            x, y = int(x0 + (x1 - x0) * share), int(y0 + (y1 - y0) * share)
            if 0 <= x < width and 0 <= y < height and w0 + (w1 - w0) * share >= nearest[y][x] * 0.999:
                rows[y][x * 3 : x * 3 + 3] = colour
