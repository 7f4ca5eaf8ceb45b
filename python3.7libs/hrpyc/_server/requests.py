"""Server side: what a request is, read from rpyc's raw arguments before anything of it runs: where it may
run (light: on its connection's thread, even while Houdini is busy), what it calls (for a busy message),
whether it is one of rpyc's opening moves, whether the client waits for its answer. Dispatch decides by
these; running or refusing it is its connection's (see rpyc_hooks).
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import TYPE_CHECKING, Any, Callable, Optional

from rpyc.core import consts

from hrpyc._common.printable import printable

if TYPE_CHECKING:  # the connection makes its requests: imported for the type checker only
    from hrpyc._server.rpyc_hooks import ServerConnection

# Requests that need neither hou nor the main thread: rpyc's bookkeeping. HANDLE_CLOSE releases what
# the client held, exactly as a dropped socket does on the connection's thread; queued behind a busy
# main thread it would hold the client's exit for rpyc 6's 30 s close timeout.
_LIGHT_HANDLERS = frozenset((consts.HANDLE_PING, consts.HANDLE_GETROOT, consts.HANDLE_INSPECT, consts.HANDLE_CLOSE))
# What every client's connect starts with, before it says (or does) anything of its own.
_OPENING_HANDLERS = frozenset((consts.HANDLE_PING, consts.HANDLE_GETROOT, consts.HANDLE_INSPECT))
SERVICE_PREFIX = "hrpyc_"


class Request(object):
    """One request from a client, as rpyc received it: what it is, read without running any of it; `run`
    and `refuse` are its connection's, which answers it as rpyc would."""

    __slots__ = ("_conn", "_raw_args", "_seq")

    def __init__(self, conn: ServerConnection, seq: int, raw_args: Any) -> None:
        self._conn, self._seq, self._raw_args = conn, seq, raw_args

    @property
    def conn(self) -> ServerConnection:
        return self._conn

    @property
    def light(self) -> bool:
        """Answered on the connection's thread, even while Houdini is busy, because no code of the
        object runs: ping, class inspection, looking up a function or method (`hou.node`,
        `node.parm`: binding, not calling), and what a client's connect does with our service (read its
        attributes, call its hrpyc_* methods, fetch an already-imported module)."""
        handler, boxed = self._raw_args
        if handler in _LIGHT_HANDLERS:
            return True
        if handler not in (consts.HANDLE_GETATTR, consts.HANDLE_CALLATTR, consts.HANDLE_CALL):
            return False
        try:  # boxed: (LABEL_TUPLE, ((LABEL_LOCAL_REF, id_pack), second, ...))
            (label, id_pack), second = boxed[1][0], boxed[1][1]
            if label != consts.LABEL_LOCAL_REF:
                return False
            root = self._conn.local_root()
            if handler == consts.HANDLE_CALLATTR:  # second: (LABEL_VALUE, name); then the arguments
                return id_pack[2] == id(root) and _service_call_is_light(second[1], boxed[1][2])
            target = self._conn.local_object(id_pack)
            if handler == consts.HANDLE_GETATTR:
                return target is root or _binds_only(target, second[1])
            # HANDLE_CALL of a bound method of the root; second: its arguments
            return getattr(target, "__self__", None) is root and _service_call_is_light(
                getattr(target, "__name__", ""), second
            )
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            return False

    @property
    def label(self) -> str:
        """What the request calls, for a busy message ("hou.ui.displayMessage"), else "a request"."""
        handler, boxed = self._raw_args
        if handler not in (consts.HANDLE_CALLATTR, consts.HANDLE_CALL):
            return "a request"
        try:
            target = self._conn.local_object(boxed[1][0][1])
            name = _name_of(target)
            if handler == consts.HANDLE_CALLATTR:
                attribute = boxed[1][1][1]  # what the client sent: plain text only, and bounded
                name += "." + printable(attribute, 100)
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            return "a request"
        return "a call of " + name

    @property
    def opening(self) -> bool:
        """rpyc's own first moves (fetch the root, inspect its class, ping): the request after them is
        our client's handshake, or a stock client's first of its own."""
        return self._raw_args[0] in _OPENING_HANDLERS

    @property
    def needs_no_reply(self) -> bool:
        """A proxy's deletion: the client does not wait for it, so neither need we."""
        return self._raw_args[0] == consts.HANDLE_DEL

    def run(self, enter: Optional[Callable[[], Optional[Callable[[], None]]]] = None) -> None:
        """Unbox, run and reply, as rpyc would (an error in the request is the client's, not ours).

        `enter()` is called before the request runs and may return a function to call on the way out
        (copy Houdini's time back); that is called just before the answer leaves, so it is done before
        the client can ask again - or, if no answer could be sent, when the request ends.
        """
        self._conn.answer(self._seq, self._raw_args, enter)

    def refuse(self, exc: BaseException) -> None:
        """Reply with `exc` instead of running; a gone client is not an error."""
        self._conn.refuse(self._seq, exc)


_FUNCTIONS = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    staticmethod,
    classmethod,
)
_PLAIN_GETATTRIBUTE = (object.__getattribute__, types.ModuleType.__getattribute__)


def _name_of(obj: Any) -> str:
    """'hou.ui.displayMessage' for a function, 'hou.Node' for a class or an instance of it."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    named = obj if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)) else type(obj)
    return "{}.{}".format(getattr(named, "__module__", None) or "?", getattr(named, "__qualname__", "?"))


def _binds_only(obj: Any, name: str) -> bool:
    """Would getattr(obj, name) only look up a function and bind it, running no code of the object's?
    (No property, no __getattr__, no custom __getattribute__, no rpyc override.)"""
    cls = type(obj)
    if cls.__getattribute__ not in _PLAIN_GETATTRIBUTE or hasattr(cls, "_rpyc_getattr"):
        return False
    try:
        return isinstance(inspect.getattr_static(obj, name), _FUNCTIONS)
    except AttributeError:  # found, if at all, by __getattr__: code runs
        return False


def _service_call_is_light(name: str, boxed_args: Any) -> bool:
    """Our hrpyc_* methods, and getmodule() of a module already imported (what a client's connect asks)."""
    if name.startswith(SERVICE_PREFIX):
        return True
    return name == "getmodule" and boxed_args[0] == consts.LABEL_VALUE and boxed_args[1][0] in sys.modules
