"""Server side, shipped: the Houdini half of `hrpyc mcp`'s tools. `hrpyc mcp` sends this module's source
with each call and runs one of its functions in Houdini through hrpyc.run (see mcp_link.call), so it works
with whatever hrpyc that Houdini runs; each function takes and returns plain data. It reaches `hou` through
`import hou` in each function, where hrpyc runs jobs (Houdini's main thread in a graphical session), and
asks for what a node may lack (flags, cook state) with getattr: a manager node has no display flag.

Every answer is bounded here already - `budget` characters of JSON, rows and messages cut - and says what
was cut; the MCP side bounds them again.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

# A node's flags, each a letter: its getter, if the node has one.
FLAGS = (
    ("D", "isDisplayFlagSet"),
    ("R", "isRenderFlagSet"),
    ("T", "isTemplateFlagSet"),
    ("B", "isBypassed"),
    ("L", "isHardLocked"),
)
FLAG_LEGEND = "D display, R render, T template, B bypass, L lock, A locked asset (inside not listed)"
MESSAGES = 3  # errors or warnings shown per node
MESSAGE = 300  # characters of one
VALUE = 300  # characters of a parameter's value shown as text
SKIPPED_PARMS = ("Folder", "FolderSet", "Separator", "Label", "Button")  # parameters that hold no value


class Cut(object):
    """What an answer holds so far, in characters of JSON, against its budget."""

    def __init__(self, budget: int) -> None:
        self.left = budget

    def take(self, item: Any) -> bool:
        """Count `item` in, if it fits."""
        size = len(json.dumps(item, default=str)) + 1
        if size > self.left:
            return False
        self.left -= size
        return True


def _hou() -> Any:
    import hou

    return hou


def _node(path: str) -> Any:
    node = _hou().node(path)
    if node is None:
        raise LookupError("no node at {!r}".format(path))
    return node


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _call(node: Any, name: str, default: Any = None) -> Any:
    """node.name(), or `default` where the node has no such method or it fails (hou.OperationFailed)."""
    method = getattr(node, name, None)
    if method is None:
        return default
    try:
        return method()
    except Exception:
        return default


def _flags(node: Any) -> str:
    letters = "".join(letter for letter, getter in FLAGS if _call(node, getter, False))
    return letters + ("A" if _call(node, "isLockedHDA", False) else "")


def _problems(node: Any) -> Dict[str, Any]:
    """The errors and warnings of the node's last cook, bounded."""
    found: Dict[str, Any] = {}
    for kind in ("errors", "warnings"):
        messages = _call(node, kind, ()) or ()
        if messages:
            found[kind] = [_text(message, MESSAGE) for message in messages[:MESSAGES]]
            if len(messages) > MESSAGES:
                found[kind].append("... and {} more".format(len(messages) - MESSAGES))
    return found


def _type_name(node: Any) -> str:
    return str(node.type().name())


def scene(path: str, cursor: Optional[str], max_depth: Optional[int], limit: int, budget: int) -> Dict[str, Any]:
    """The nodes under `path`, depth first (the node itself first): rows of [path, type, flags] and, when
    there is something to say, a fourth item with its errors, warnings, or how many children were not
    listed (beyond max_depth, or inside a locked asset). A page ends after `limit` rows or `budget`
    characters; its `next_cursor` starts the next page, from the same place in the same walk."""
    root = _node(path)
    start, after = _cursor(cursor)
    cut, index = Cut(budget), 0
    rows: List[Any] = []
    previous: Any = None
    stack: List[Tuple[Any, int]] = [(root, 0)]
    while stack:
        current, depth = stack.pop()
        children = _call(current, "children", ()) or ()
        below = not _call(current, "isLockedHDA", False) and (max_depth is None or depth < max_depth)
        if below:
            stack.extend((child, depth + 1) for child in reversed(children))
        if index == start and start and (previous is None or previous.path() != after):
            raise LookupError(_CHANGED.format(path))
        if index >= start:
            row: List[Any] = [current.path(), _type_name(current), _flags(current)]
            more = _problems(current)
            if children and not below:
                more["unlisted_children"] = len(children)
            if more:
                row.append(more)
            if rows and (len(rows) >= limit or not cut.take(row)):  # a page holds at least one row
                return _page(path, rows, start, "{}:{}".format(index, previous.path()))
            rows.append(row)
        previous, index = current, index + 1
    if start and not rows:
        raise LookupError(_CHANGED.format(path))
    return _page(path, rows, start, None)


_CHANGED = "the nodes under {} changed since that page was read: ask again without a cursor"


def _cursor(cursor: Optional[str]) -> Tuple[int, str]:
    """(index of the first row, path of the row before it) from a cursor `scene` gave."""
    if not cursor:
        return 0, ""
    index, _, after = cursor.partition(":")
    if not index.isdigit() or not after:
        raise ValueError("{!r} is not a cursor this tool gave: pass the next_cursor of the last page".format(cursor))
    return int(index), after


def _page(path: str, rows: List[Any], start: int, next_cursor: Optional[str]) -> Dict[str, Any]:
    page = {"under": path, "first": start, "nodes": rows, "flags": FLAG_LEGEND, "next_cursor": next_cursor}
    if next_cursor:
        page["note"] = "more nodes follow: pass next_cursor to read the next page"
    return page


def node_info(path: str, parm_filter: Optional[str], changed_only: bool, budget: int) -> Dict[str, Any]:
    """One node: type, flags, inputs, outputs, children, errors and warnings, cook state, then as many of
    its parameters' values as fit in `budget` (filtered by a glob on their names, or those not at their
    default)."""
    import fnmatch

    found = _node(path)
    kind = found.type()
    category = _call(kind, "category")
    answer: Dict[str, Any] = {
        "path": found.path(),
        "type": str(kind.name()),
        "category": str(category.name()) if category is not None else None,
        "description": _call(kind, "description"),
        "flags": _flags(found),
        "inputs": [None if source is None else source.path() for source in _call(found, "inputs", ()) or ()],
        "outputs": [target.path() for target in (_call(found, "outputs", ()) or ())[:50]],
        "children": len(_call(found, "children", ()) or ()),
    }
    answer.update(_problems(found))
    cook = {
        "cook_count": _call(found, "cookCount"),
        "needs_to_cook": _call(found, "needsToCook"),
        "time_dependent": _call(found, "isTimeDependent"),
    }
    answer["cook"] = {key: value for key, value in cook.items() if value is not None}
    cut = Cut(budget - len(json.dumps(answer, default=str)))
    parms: Dict[str, Any] = {}
    tuples = _call(found, "parmTuples", ()) or ()
    shown = 0
    for parm_tuple in tuples:
        name = str(parm_tuple.name())
        if parm_filter and not fnmatch.fnmatchcase(name, parm_filter):
            continue
        template = _call(parm_tuple, "parmTemplate")
        if template is not None and str(template.type()).rpartition(".")[2] in SKIPPED_PARMS:
            continue
        if changed_only and _call(parm_tuple, "isAtDefault", False):
            continue
        value = _value(parm_tuple)
        if not cut.take([name, value]):
            answer["parms_note"] = "only the first {} parameters fit: ask for fewer (parm_filter)".format(shown)
            break
        parms[name] = value
        shown += 1
    answer["parms"] = parms
    return answer


def _value(parm: Any) -> Any:
    """A parameter's value as plain data: a number or text, a list for a tuple of several."""
    try:
        values = parm.eval()
    except Exception as exc:  # an expression that fails, say
        return "<cannot evaluate: {}>".format(_text(exc, VALUE))
    values = values if isinstance(values, (list, tuple)) else [values]
    plain = [v if isinstance(v, (int, float, bool)) or v is None else _text(v, VALUE) for v in values]
    return plain[0] if len(plain) == 1 else plain


def set_parms(path: str, values: Dict[str, Any]) -> Dict[str, Any]:
    """Set parameters by name - a parameter (`tx`) to a value, a tuple (`t`) to a list of values - all or
    none: every name is checked before anything is set. Answers with the new values."""
    found = _node(path)
    plan, unknown = [], []
    for name, value in values.items():
        several = isinstance(value, (list, tuple))
        parm, parm_tuple = found.parm(name), found.parmTuple(name)
        if several and parm_tuple is not None and len(value) == len(parm_tuple):
            plan.append((parm_tuple, list(value)))
        elif not several and parm is not None:
            plan.append((parm, value))
        elif parm_tuple is not None:
            raise ValueError("{} takes {} values: give {}".format(name, len(parm_tuple), _wanted(len(parm_tuple))))
        elif parm is not None:
            raise ValueError("{} takes one value, not a list".format(name))
        else:
            unknown.append(name)
    if unknown:
        raise LookupError("{} has no parameter {} (houdini_node lists them)".format(path, ", ".join(unknown)))
    for target, value in plan:
        target.set(value)
    return {"path": path, "parms": {str(target.name()): _value(target) for target, _ in plan}}


def _wanted(count: int) -> str:
    return "one value" if count == 1 else "a list of {}".format(count)


def create_node(parent: str, node_type: str, name: Optional[str]) -> Dict[str, Any]:
    made = _node(parent).createNode(node_type, name) if name else _node(parent).createNode(node_type)
    _call(made, "moveToGoodPosition")
    return {"path": made.path(), "type": _type_name(made)}


def connect(source: str, target: str, input_index: int, output_index: int) -> Dict[str, Any]:
    """Wire `source`'s output `output_index` into `target`'s input `input_index`."""
    into, feeding = _node(target), _node(source)
    if output_index:
        into.setInput(input_index, feeding, output_index)
    else:
        into.setInput(input_index, feeding)
    return {"path": into.path(), "inputs": [None if node is None else node.path() for node in into.inputs()]}


def delete(paths: List[str]) -> Dict[str, Any]:
    """Delete nodes (all found first, or nothing is deleted); a node inside another deleted goes with it."""
    nodes = [_node(path) for path in paths]
    gone: List[str] = []
    for found in sorted(nodes, key=lambda n: n.path()):
        if not any(found.path().startswith(parent + "/") for parent in gone):
            found.destroy()
        gone.append(found.path())
    return {"deleted": gone}


def undo(steps: int, labels: List[str]) -> Dict[str, Any]:
    """Undo up to `steps` steps while the next one is one of `labels` (the assistant's tools): never
    the user's own."""
    hou = _hou()
    if not hou.isUIAvailable() or not hou.undos.areEnabled():
        raise RuntimeError("this Houdini keeps no undo history (hython and the demo keep none, or undos are off)")
    undone: List[str] = []
    while len(undone) < steps:
        upcoming = hou.undos.undoLabels()
        if not upcoming or upcoming[0] not in labels:
            break
        hou.undos.performUndo()
        undone.append(str(upcoming[0]))
    following = hou.undos.undoLabels()
    answer: Dict[str, Any] = {"undone": undone, "next_undo": _text(following[0], MESSAGE) if following else None}
    if len(undone) < steps and following:
        answer["note"] = "stopped: the next undo step is not the assistant's"
    return answer


def frame() -> float:
    return float(_hou().frame())


def capture(width: int, height: int) -> bytes:
    """The Scene Viewer at the current frame, flipbooked at width x height into a PNG: its bytes."""
    import os
    import shutil
    import tempfile

    hou = _hou()
    if not hou.isUIAvailable():
        raise RuntimeError("no viewport: this Houdini has no UI (hython); houdini_capture needs a graphical Houdini")
    viewer = hou.ui.paneTabOfType(hou.paneTabType.SceneViewer)
    if viewer is None:
        raise RuntimeError("no Scene Viewer is open in this Houdini: open one to capture it")
    folder = tempfile.mkdtemp(prefix="hrpyc-capture-")
    try:
        settings = viewer.flipbookSettings().stash()
        frame = hou.frame()
        settings.frameRange((frame, frame))
        settings.output(os.path.join(folder, "capture.$F4.png"))
        settings.outputToMPlay(False)
        settings.useResolution(True)
        settings.resolution((width, height))
        viewer.flipbook(viewer.curViewport(), settings)
        written = sorted(name for name in os.listdir(folder) if name.endswith(".png"))
        if not written:
            raise RuntimeError("Houdini's flipbook wrote no image")
        with open(os.path.join(folder, written[0]), "rb") as handle:
            return handle.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
