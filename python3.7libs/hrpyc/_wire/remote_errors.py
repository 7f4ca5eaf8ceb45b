"""Both sides: an error raised in the server, raised in the client as an exception of its own.

rpyc sends an error as its class's module and name, its args and public attributes, and its traceback as
text. A builtin class it raises as itself; any other becomes rpyc's generic stand-in, whose str() is the
whole remote traceback (plus a warning when the two ends' rpyc differ), and a class reached as an
attribute (`hou.OperationFailed`) is a proxy, which `except` refuses. Our client instead gives each of the
server's exception classes one local class, per connection - its *mirror*: the same module name and name,
as bases the mirrors of the remote class's exception bases (a builtin base is that builtin) - and raises
an instance of it:

- `except hou.OperationFailed:`, `except hou.Error:` and `isinstance` work: the attribute is the mirror,
  and the error raised is an instance of it; builtin exceptions stay builtins (`FileNotFoundError`).
- `str(error)` is the server's message alone. The server's traceback is `error.remote_traceback`, and the
  error's cause (a `RemoteTraceback`), so `traceback.print_exc()` and an uncaught error show it above the
  error, as concurrent.futures and multiprocessing show a worker's: that works on every Python, where
  `__notes__` print from 3.11 only, and a `__str__` carrying it (rpyc's way) makes str() 30 lines.
- What the server sent is shown escaped (hrpyc._common.printable): the message, the args, the traceback.
- Nothing the server names is imported and nothing is unpickled: a mirror is made with `type()`.

A mirror is made from its class's *lineage* (see `lineage`): an hrpyc server adds it, and the error's
message, to every error of a class that is not a builtin (a class may build str() from more than its
args, as Houdini's do); a client asks any classic server for it when it meets such a class otherwise,
shipping `lineage`'s source through the classic service's eval, once per connection. An hrpyc server also
leaves its own frames - rpyc's, hrpyc's - out of the traceback it sends: it starts where the code the
client called starts.
"""

from __future__ import annotations

import builtins
import inspect
import os
import textwrap
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from hrpyc._common.printable import printable
from hrpyc._wire.rpyc_versions import set_rpyc_traceback

Lineage = Tuple[Tuple[str, str, Tuple[int, ...]], ...]

LINEAGE = "_hrpyc_lineage"  # the attribute an hrpyc server adds to an error: its class's lineage ...
MESSAGE = "_hrpyc_message"  # ... and its str() (kept, escaped, on the error the client raises)
MESSAGE_LIMIT = 100_000  # characters of an error's message a server sends
MAX_LINEAGE = 64  # classes of a lineage a client reads (a real one has a handful)
TRACEBACK_LIMIT = 20_000  # characters of a server's traceback kept (a legitimate one is a few thousand)
NAME_LIMIT = 200  # characters of a module's or a class's name
_HEADER = "Traceback (most recent call last):"
BUSY_MARK = "hrpyc: Houdini is busy:"  # how a busy refusal starts; what holds the main thread follows


def lineage(cls: Any, name: Optional[str] = None) -> Lineage:
    """What a client needs to mirror the exception class `cls` (with `name`: of the class of that name in
    the module named `cls`): for each exception class of its MRO, itself first, (module, name, the
    indices of its exception bases in this list); () for anything else. It runs in the server, a stock
    one too (see `shipped_lineage`): self-contained."""
    import sys

    if name is not None:
        cls = getattr(sys.modules.get(cls), name, None)
    if not isinstance(cls, type) or not issubclass(cls, BaseException):
        return ()
    mro = [k for k in cls.__mro__ if issubclass(k, BaseException)]
    return tuple(
        (str(k.__module__), str(k.__name__), tuple(mro.index(b) for b in k.__bases__ if b in mro)) for k in mro
    )


def shipped_lineage() -> str:
    """An expression a classic server evaluates (SlaveService.eval) to its own copy of `lineage`."""
    source = "from __future__ import annotations\n" + textwrap.dedent(inspect.getsource(lineage))
    return "(lambda space: (exec({!r}, space), space[{!r}])[1])({{}})".format(source, lineage.__name__)


# The server's side


def attributes(typ: type, val: BaseException, attrs: Sequence[Tuple[str, Any]]) -> Tuple[Tuple[str, Any], ...]:
    """The attributes an error is sent with: rpyc's (`attrs`) without the methods it wrote out as their
    repr (no use, and they would hide the methods of the client's class), and for a class that is not a
    builtin its lineage and its message."""
    kept = tuple((name, value) for name, value in attrs if not callable(getattr(typ, name, None)))
    if typ.__module__ == "builtins":
        return kept
    try:
        message = str(val)[:MESSAGE_LIMIT]
    except Exception:  # a __str__ that fails: the client shows the args
        return kept + ((LINEAGE, lineage(typ)),)
    return kept + ((LINEAGE, lineage(typ)), (MESSAGE, message))


def traceback_text(typ: type, val: BaseException, tb: Any, plumbing: Sequence[str]) -> str:
    """The traceback of an error, as traceback.format_exception writes it, without the frames of files
    under the folders `plumbing` (rpyc's and hrpyc's): the first frame is the code the client called; an
    error raised in rpyc or hrpyc itself (an attribute a proxy's object lacks) is its last line alone."""
    shown = traceback.TracebackException(typ, val, tb)
    _trim(shown, plumbing, set())
    return "".join(shown.format())


def plumbing(*modules: Any) -> Tuple[str, ...]:
    """The folders of these packages (their __init__), as imported and as real paths."""
    folders = [os.path.dirname(os.path.abspath(str(module.__file__))) for module in modules]
    return tuple(dict.fromkeys(folders + [os.path.realpath(folder) for folder in folders]))


def _trim(shown: Any, folders: Sequence[str], seen: set) -> None:  # type: ignore[type-arg]
    if shown is None or id(shown) in seen:
        return
    seen.add(id(shown))
    frames = [frame for frame in shown.stack if not _under(frame.filename, folders)]
    shown.stack = traceback.StackSummary.from_list(frames)
    if not frames:
        shown.exc_traceback = None  # Python < 3.11 heads even an empty stack with "Traceback ..."
    _trim(shown.__cause__, folders, seen)
    _trim(shown.__context__, folders, seen)


def _under(path: str, folders: Sequence[str]) -> bool:
    path = os.path.abspath(path)
    return any(path.startswith(folder + os.sep) for folder in folders)


# The client's side


class RemoteTraceback(Exception):
    """The server's traceback of an error raised there (escaped), set as that error's cause: a traceback
    shows it above the error, as concurrent.futures shows a worker's."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def raised_there(exc: BaseException) -> bool:
    """Was `exc` raised in the server (rather than here, by rpyc or by us)?"""
    return "remote_traceback" in getattr(exc, "__dict__", ())


def busy_refusal(timeout: float, holder: str = "") -> TimeoutError:
    """The server's answer to a request Houdini's main thread did not take within `timeout`: a builtin
    TimeoutError, which stock clients show as a plain sentence and ours raise as HoudiniBusyError.
    `holder`: what holds the main thread, as busy_holder() says it ("job 'cache' from maya (...) for 42 s")."""
    return TimeoutError(
        "{} {}; the main thread did not take the request within {:g} s; it was dropped".format(
            BUSY_MARK, holder or "a request", timeout
        )
    )


def busy_holder(message: str) -> Optional[str]:
    """What the busy refusal `message` names as holding the main thread (a peer wrote it: bound it), ''
    when it names nothing (an older hrpyc server); None when `message` is no busy refusal."""
    if not message.startswith(BUSY_MARK):
        return None
    holder, found, _ = message[len(BUSY_MARK) :].partition("; the main thread did not take")
    return holder.strip() if found else ""


class RemoteErrors(object):
    """One connection's mirrors of the server's exception classes, and the errors it raises, as ours.

    `ask(remote_class)`, or `ask(module, name)`: `lineage` of that class, computed in the server (one request).
    Mirrors are kept by module and name: one local class per remote class, for the connection's life."""

    def __init__(self, ask: Callable[..., Any]) -> None:
        self._ask = ask
        self._classes: Dict[Tuple[str, str], type] = {}
        self._asking = False  # an error while asking the server is not a reason to ask it again
        self._can_ask = True  # False once the server could not answer (not a classic server)

    def local_class(self, remote_name: str) -> Optional[type]:
        """The builtin exception class a remote class's qualified name names ('builtins.ValueError'), or None."""
        module, _, name = remote_name.rpartition(".")
        return _builtin(module, name)

    def mirror(self, remote_class: Any) -> Optional[type]:
        """The local class of the server's class `remote_class` (a proxy), or None if it is no exception class."""
        return self._made_from(self._lineage_of(remote_class))

    def error(self, module: Any, name: Any, args: Any, attrs: Any, text: Any) -> BaseException:
        """The error to raise for one the server sent (rpyc's pieces of it); never raises itself."""
        try:
            return self._error(printable(module, NAME_LIMIT), printable(name, NAME_LIMIT), args, attrs, text)
        except Exception:  # whatever the server sent is an error for the caller, never one of ours
            return Exception("the server raised an error hrpyc cannot read: {}".format(printable(repr(name))))

    def _error(self, module: str, name: str, args: Any, attrs: Any, text: Any) -> BaseException:
        told = [pair for pair in attrs if type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str]
        said = dict(told)
        cls: Any = _builtin(module, name) or self._mirror_named(module, name, said.get(LINEAGE))
        exc = cls.__new__(cls)  # as rpyc makes it: no __init__ of the class runs
        exc.args = tuple(_escaped(arg) for arg in args) if type(args) is tuple else ()
        for key, value in told:
            if key.startswith("_") or key == "args" or callable(getattr(cls, key, None)):
                continue
            if value is None and getattr(exc, key, None) is None:
                continue  # as it is: OSError would show a filename2 set to None as " -> None"
            try:
                setattr(exc, key, _escaped(value))
            except (AttributeError, TypeError):  # read-only here
                pass
        message = said.get(MESSAGE)
        if type(message) is str and vars(cls).get("__str__") is _str:
            setattr(exc, MESSAGE, _escaped(message))
        text = text if type(text) is str else ""
        set_rpyc_traceback(exc, text)
        shown = printable(
            text.rstrip().replace(_HEADER, "Traceback in the server (most recent call last):", 1),
            TRACEBACK_LIMIT,
            lines=True,
        )
        exc.remote_traceback = shown  # type: ignore[attr-defined]
        if '  File "' in shown:  # a traceback, not its last line alone: worth showing above the error
            exc.__cause__ = RemoteTraceback(shown)
        return exc

    def _mirror_named(self, module: str, name: str, told: Any) -> type:
        """The mirror of the server's class `module`.`name`, from the lineage the error came with (an hrpyc
        server's), or asked for (another server), or made with Exception as its base."""
        found = self._classes.get((module, name))
        if found is not None:
            return found
        found = self._made_from(told)
        if found is None and self._can_ask and not self._asking:
            self._asking = True
            try:
                found = self._made_from(self._ask(module, name))
            except Exception:  # no eval there (not a classic server), or the class is gone
                self._can_ask = False
            finally:
                self._asking = False
        return found or self._made(module, name, ())

    def _lineage_of(self, remote_class: Any) -> Any:
        if not self._can_ask:
            return ()
        try:
            return self._ask(remote_class)
        except Exception as exc:
            if not raised_there(exc):
                raise  # the connection's own trouble (lost, timed out): the caller's to see
            self._can_ask = False
            return ()

    def _made_from(self, told: Any) -> Optional[type]:
        """The mirror of the first class of a lineage, made (with its bases) or found; None if `told` is not one."""
        if not _is_lineage(told):
            return None
        made: List[type] = []
        for module, name, bases in reversed(told):
            module, name = printable(module, NAME_LIMIT), printable(name, NAME_LIMIT)
            found = _builtin(module, name) or self._classes.get((module, name))
            made.append(found or self._made(module, name, tuple(made[len(told) - 1 - i] for i in bases)))
        return made[-1]

    def _made(self, module: str, name: str, bases: Tuple[type, ...]) -> type:
        namespace = {"__module__": module, "__qualname__": name, "__str__": _str, "__doc__": _DOC.format(module, name)}
        try:
            cls = type(name, bases or (Exception,), namespace)
        except TypeError:  # bases this Python cannot combine (another version's builtins): Exception's
            cls = type(name, (Exception,), namespace)
        return self._classes.setdefault((module, name), cls)  # one class, whichever thread made it first


_DOC = "hrpyc's local class for the server's {}.{}: `except` and `isinstance` take it."


def _str(self: BaseException) -> str:
    """A mirror's str(): the message the server sent, else what its first builtin base makes of the args."""
    said = vars(self).get(MESSAGE)
    if type(said) is str:
        return said
    return next(
        method for method in (vars(k).get("__str__") for k in type(self).__mro__) if method not in (None, _str)
    )(self)


def _builtin(module: str, name: str) -> Optional[type]:
    found = getattr(builtins, name, None) if module == "builtins" else None
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _is_lineage(told: Any) -> bool:
    """Is `told` a lineage as `lineage` makes one (a server's answer: anything may come)?"""
    return (
        type(told) is tuple
        and 0 < len(told) <= MAX_LINEAGE
        and all(
            type(entry) is tuple
            and len(entry) == 3
            and type(entry[0]) is str
            and type(entry[1]) is str
            and type(entry[2]) is tuple
            and all(type(base) is int and index < base < len(told) for base in entry[2])
            for index, entry in enumerate(told)
        )
    )


def _escaped(value: Any) -> Any:
    """A text the server sent, with its unprintable characters escaped (line breaks kept), whole."""
    return (
        printable(value, 10 * len(value), lines=True) if type(value) is str else value
    )  # an escape is <= 10 characters
