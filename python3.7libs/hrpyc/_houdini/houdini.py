"""Server side: the only module that touches `hou` and `hdefereval`, and only once this process has loaded
`hou`.

hrpyc itself never imports `hou`: a plain Python serving hrpyc must stay plain, and in Houdini and
hython `hou` is loaded before any hook runs. Only `hrpyc serve --demo` gives a plain Python one: the demo
scene (use_demo).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple


def loaded_hou() -> Optional[Any]:
    if sys.modules.get("hou") is None:  # None: an import of hou failed, or was blocked on purpose
        return None
    import hou

    return hou


def available() -> bool:
    """Is there a `hou` this process could serve: loaded, or importable (found, not imported: importing
    Houdini's outside Houdini takes seconds and a licence)?"""
    return loaded_hou() is not None or importlib.util.find_spec("hou") is not None


_DEMO_MODULE = __name__.rpartition(".")[0] + ".demo"  # hrpyc._houdini.demo: loaded by use_demo() alone


def use_demo() -> bool:
    """Make hrpyc's demo scene this process's `hou` (`hrpyc serve --demo`): `import hou` and clients'
    `modules["hou"]` get it from now on. False, and nothing changed, where a `hou` is loaded already
    (hython, Houdini): the demo must never hide Houdini's."""
    if loaded_hou() is not None:
        return False
    sys.modules["hou"] = importlib.import_module(_DEMO_MODULE)
    return True


def is_demo() -> bool:
    """True when this process's `hou` is hrpyc's demo scene, not Houdini's."""
    hou = loaded_hou()
    return hou is not None and hou is sys.modules.get(_DEMO_MODULE)


def version() -> Optional[str]:
    """Houdini's version string, or None outside Houdini. Call it on the thread that started the server."""
    hou = loaded_hou()
    if hou is None:
        return None
    try:
        return hou.applicationVersionString()
    except Exception:  # a broken or partial hou must not stop the server from starting
        return None


def release() -> Optional[str]:
    """Houdini's major.minor ('21.0'), or None outside Houdini: what keeps one Houdini's settings apart
    from another's."""
    hou = loaded_hou()
    if hou is None:
        return None
    try:
        return "{}.{}".format(*hou.applicationVersion()[:2])
    except Exception:  # a broken or partial hou: settings shared with plain Python rather than none
        return None


def scene() -> Optional[str]:
    """The scene file open in this Houdini, or None outside Houdini."""
    hou = loaded_hou()
    if hou is None:
        return None
    try:
        return hou.hipFile.path()
    except Exception:  # a broken or partial hou must not stop the server from starting
        return None


BATCH_APPLICATIONS = ("hython", "hbatch")


def can_serve_now() -> bool:
    """False only in a graphical Houdini whose hou.ui is not there yet: starting then would pick the
    wrong dispatch, so start-up hooks wait for a later one. True outside Houdini and in hython."""
    hou = loaded_hou()
    if hou is None:
        return True
    try:
        return hou.applicationName() in BATCH_APPLICATIONS or hou.isUIAvailable()
    except Exception:  # a partial hou: do not block the start
        return True


def main_window() -> Optional[Any]:
    """Houdini's main window, to parent floating panels to; None outside a graphical Houdini."""
    hou = loaded_hou()
    if hou is None or not hou.isUIAvailable():
        return None
    return hou.qt.mainWindow()


def deferred_poster() -> Optional[Callable[..., None]]:
    """`hdefereval.executeDeferred` in a graphical Houdini; None in hython and plain Python."""
    hou = loaded_hou()
    if hou is None or not hou.isUIAvailable():
        return None
    try:
        import hdefereval  # pyright: ignore[reportMissingImports]  # Houdini's own, only inside Houdini
    except ImportError:
        return None
    return hdefereval.executeDeferred


# hdefereval's calls that wait for the main thread to run their code: the public ones, and the helper
# Houdini's implementation calls with block=True (reached also through names imported before a server
# started, `from hdefereval import executeInMainThreadWithResult`), wrapped when its signature is the one
# we know (Houdini 22.0: `_queueDeferred(code, args, kwargs, block, num_waits=0)`).
WAITING_CALLS = ("executeInMainThreadWithResult", "execute_in_main_thread_with_result")
QUEUE_HELPER, QUEUE_HELPER_PARAMETERS = "_queueDeferred", ["code", "args", "kwargs", "block"]
_waits_lock = threading.Lock()
_waits_users: List[object] = []  # one token per server that asked; the last one out puts them back
_waits_originals: Dict[str, Callable[..., Any]] = {}


def waits_run_directly() -> Callable[[], None]:
    """Until the returned function is called, hdefereval's waiting calls made *on the main thread* run
    their code at once instead of waiting for it forever; calls from other threads are Houdini's own.

    Requests then run on the main thread, and code written for SideFX's server (which ran them on
    socket threads) wraps UI work in `executeInMainThreadWithResult`: on the main thread, that
    queues the work for itself and waits with no timeout - Houdini freezes.
    """
    import hdefereval  # pyright: ignore[reportMissingImports]  # Houdini's own, only inside Houdini

    token = object()
    with _waits_lock:
        if not _waits_users:
            for name in WAITING_CALLS:
                original = getattr(hdefereval, name, None)
                if original is not None:
                    _waits_originals[name] = original
                    setattr(hdefereval, name, _direct_on_main_thread(original))
            helper = getattr(hdefereval, QUEUE_HELPER, None)
            if helper is not None and _parameters(helper)[:4] == QUEUE_HELPER_PARAMETERS:
                _waits_originals[QUEUE_HELPER] = helper
                setattr(hdefereval, QUEUE_HELPER, _queue_direct_on_main_thread(helper))
        _waits_users.append(token)

    def restore() -> None:
        with _waits_lock:
            if token not in _waits_users:
                return
            _waits_users.remove(token)
            if not _waits_users:
                for name, original in _waits_originals.items():
                    setattr(hdefereval, name, original)
                _waits_originals.clear()

    return restore


def _parameters(function: Callable[..., Any]) -> List[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


def _on_main_thread_now(code: Any, args: Any, kwargs: Any) -> Any:
    """What Houdini's queue does with `code` on the main thread, done at once: call a callable; evaluate
    a string (a Python expression) or a code object in __main__, as hdefereval documents."""
    if callable(code):
        return code(*args, **kwargs)
    return eval(code, vars(sys.modules["__main__"]))


def _direct_on_main_thread(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(code: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return original(code, *args, **kwargs)
        return _on_main_thread_now(code, args, kwargs)

    return call


def _queue_direct_on_main_thread(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def queue(code: Any, args: Any, kwargs: Any, block: Any, *rest: Any, **more: Any) -> Any:
        if block and threading.current_thread() is threading.main_thread():
            return _on_main_thread_now(code, args or (), kwargs or {})
        return original(code, args, kwargs, block, *rest, **more)

    return queue


def enter_main_context() -> Optional[Callable[[], None]]:
    """Give the calling thread (off the main thread) the main thread's Houdini time; returns the function
    that copies it back, or None when there is nothing to copy (no hou, or already the main thread).

    Houdini keeps the global time per thread; SideFX's client bracketed each hou call with
    `_syncFromMainContext()` / `_syncToMainContext()` over the network (four extra round trips a call).
    Doing it here, around the request, costs nothing on the wire. Two plain calls, not a context
    manager: this runs around every request (see hrpyc._server.requests.Request.run).
    """
    hou = sys.modules.get("hou")
    if hou is None or threading.current_thread() is threading.main_thread():
        return None
    sync_in = getattr(hou, "_syncFromMainContext", None)
    if sync_in is None:
        return None
    sync_in()
    return hou._syncToMainContext  # type: ignore[no-any-return]


ATTRIB_KINDS = ("point", "prim", "vertex")


def attrib_buffer(node_path: str, name: str, kind: str) -> Tuple[bytes, str, int]:
    """A geometry attribute's values packed as bytes in one call, as hou itself offers them:
    (buffer, typecode 'f' float32 or 'i' int32, values per element)."""
    import hou

    if kind not in ATTRIB_KINDS:
        raise ValueError("kind={!r}: use one of {}".format(kind, ", ".join(ATTRIB_KINDS)))
    node = hou.node(node_path)
    if node is None or not hasattr(node, "geometry"):
        raise ValueError("no geometry node (SOP) at {!r}".format(node_path))
    geometry = node.geometry()  # pyright: ignore[reportAttributeAccessIssue]  # a SOP's: hasattr above
    attrib = getattr(geometry, "find{}Attrib".format(kind.capitalize()))(name)
    if attrib is None:
        raise ValueError("{} has no {} attribute {!r}".format(node_path, kind, name))
    if attrib.dataType() == hou.attribData.Float:
        read = getattr(geometry, "{}FloatAttribValuesAsString".format(kind))
        return read(name, float_type=hou.numericData.Float32), "f", attrib.size()
    if attrib.dataType() == hou.attribData.Int:
        read = getattr(geometry, "{}IntAttribValuesAsString".format(kind))
        return read(name, int_type=hou.numericData.Int32), "i", attrib.size()
    raise ValueError("{} attribute {!r} holds strings; hrpyc.run() can fetch those".format(kind, name))


def open_undo_group(label: str) -> Optional[Any]:
    """Open `hou.undos.group(label)` (everything done until it closes is one undo step named `label`)
    and return it, or None where there is no undo history to group: outside a graphical Houdini
    (hython, plain Python), or with undos disabled."""
    hou = loaded_hou()
    if hou is None or not hou.isUIAvailable() or not hou.undos.areEnabled():
        return None
    group = hou.undos.group(label)
    group.__enter__()
    return group


def close_undo_group(group: Any) -> None:
    """Close a group open_undo_group() opened."""
    group.__exit__(None, None, None)


def open_operation(name: str) -> Optional[Any]:
    """Open `hou.InterruptableOperation` named `name` on the calling thread - its progress in Houdini's
    status line, and the artist's Esc raising `hou.OperationInterrupted` from its updates - and return it;
    None where there is none to show: outside a graphical Houdini (hython, plain Python, the demo), and
    off its main thread, whose event loop alone hears Esc."""
    hou = loaded_hou()
    if hou is None or threading.current_thread() is not threading.main_thread():
        return None
    try:
        if not hou.isUIAvailable():
            return None
        operation = hou.InterruptableOperation(name, long_operation_name=name, open_interrupt_dialog=False)
        operation.__enter__()
    except Exception:  # a broken or partial hou: the job runs without one, as it would in hython
        return None
    return operation


def close_operation(operation: Any) -> None:
    """Close an operation open_operation() opened: it leaves the status line."""
    operation.__exit__(None, None, None)


def report_progress(operation: Any, fraction: float, message: Optional[str]) -> None:
    """Show the operation at `fraction` (0 to 1) with `message` (None: as it was) in the status line;
    hou.OperationInterrupted once the artist has pressed Esc."""
    operation.updateLongProgress(fraction, message)


def was_interrupted(operation: Any) -> bool:
    """Whether the artist has pressed Esc since the operation opened: updateProgress with no fraction (its
    default, -1: none shown) raises hou.OperationInterrupted then. False if Houdini refuses the look."""
    try:
        operation.updateProgress()
    except Exception as error:
        return is_interrupt(error)
    return False


def is_interrupt(error: BaseException) -> bool:
    """Whether `error` is Houdini's `hou.OperationInterrupted`: the artist pressed Esc."""
    interrupted = getattr(loaded_hou(), "OperationInterrupted", None)
    return isinstance(interrupted, type) and isinstance(error, interrupted)
