"""Client side: our client's connection and service, with fewer round trips than rpyc's own proxies,
one-line errors, and the server's exceptions raised as local classes (see hrpyc._wire.remote_errors).

rpyc's internals are touched here, in hrpyc._server.rpyc_hooks and in hrpyc._wire.rpyc_versions only (see there).
"""

from __future__ import annotations

import collections
import socket
import time
import types
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple

import rpyc
from rpyc.core import consts, netref
from rpyc.core.service import ClassicClient
from rpyc.lib.colls import WeakValueDict

from hrpyc._common.parking import main_thread_parked
from hrpyc._common.printable import printable
from hrpyc._wire.remote_errors import RemoteErrors, busy_holder, raised_there, shipped_lineage
from hrpyc._wire.rpyc_versions import (
    HANDLE_RELEASE,
    MAX_RELEASE,
    FastSocketStream,
    pack_releases,
    releasable,
    sync_timeout,
)
from hrpyc.errors import ConnectionLostError, HoudiniBusyError, RequestTimeoutError

_STABLE_KINDS = ("builtins.function", "builtins.builtin_function_or_method", "builtins.type")
RELEASE_BATCH = 16  # dropped proxies sent in one release, at the latest with the next request ...
RELEASE_AGE = 0.05  # ... or as soon as a request is made this many seconds after the first was dropped


class ClientConnection(rpyc.Connection):
    """Our client's connection: one-line errors, and fewer round trips than rpyc's own proxies.

    rpyc fetches `proxy.method` as a remote bound-method object (GETATTR), calls it (CALL) and later
    drops it (DEL): three messages for `node.parm("tx")`. The proxy classes made here answer a known
    method locally with rpyc's own one-message CALLATTR stub. Classes are inspected once per remote
    class (rpyc 6 inspects again for every instance), and functions and classes looked up on an
    imported module (`hou.node`) are kept for the connection: a module's functions do not change.

    rpyc also sends one message per dropped proxy, and the server answers each; with an hrpyc server
    (`batch_releases`), dropped proxies are sent together, in one unanswered message, in the packet of a
    later request, which the server answers before it releases them where hou runs. Until then their
    objects stay alive on the server: a few (RELEASE_BATCH), or for a moment (RELEASE_AGE), or until the
    next request.

    An error the server raises is raised here as its builtin class or as our local class for the
    server's (its mirror), and a remote exception class is that local class, not a proxy: see
    hrpyc._wire.remote_errors. The server keeps a reference to each such class for the connection's life.
    """

    address = "?"
    dial: Optional[Callable[[], socket.socket]] = None  # a new socket to the same server (the bulk lane's)
    lane_key = b""  # from the handshake; b"" when the server offers no bulk lane
    batch_releases = False  # set from the handshake: the server takes HANDLE_RELEASE
    server_info: Dict[str, str]  # what the server is, from the handshake ({} from a stock server)
    modules: Any  # rpyc's classic service sets it: the server's modules by name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hrpyc_classes: Dict[Any, type] = {}
        self._hrpyc_modules: Set[Any] = set()
        self._hrpyc_lookups: Dict[Any, Any] = {}
        self._hrpyc_released: Deque[Tuple[Any, int]] = collections.deque()  # appends and pops are atomic
        self._hrpyc_released_since = 0.0
        self._hrpyc_errors = RemoteErrors(self._lineage)
        self._hrpyc_lineage: Any = None  # the server's copy of remote_errors.lineage, once asked for
        self._hrpyc_local_classes: Dict[Any, type] = {}  # by id_pack: the remote exception classes met
        self._proxy_cache = _Proxies()

    def released(self, proxy: Any) -> None:
        """`proxy` was dropped (its __del__, on whichever thread collected it): tell the server."""
        get = object.__getattribute__
        id_pack, count = get(proxy, "____id_pack__"), get(proxy, "____refcount__")
        if not self.batch_releases or not releasable(id_pack, count):
            _PLAIN_NETREF_DEL(proxy)
            return
        if not self._hrpyc_released:
            self._hrpyc_released_since = time.monotonic()
        self._hrpyc_released.append((id_pack, count))

    def _send_releases(self) -> None:
        """Send the dropped proxies in one message, in the packet of the request about to be sent; the
        server answers none (see rpyc_versions.HANDLE_RELEASE), so no answer is awaited."""
        released = self._hrpyc_released
        pairs: List[Tuple[Any, int]] = []
        while released and len(pairs) < MAX_RELEASE:
            pairs.append(released.popleft())
        stream = self._channel.stream
        if isinstance(stream, FastSocketStream):
            stream.hold_next_write()
        self._send(consts.MSG_REQUEST, self._get_seq_id(), (HANDLE_RELEASE, self._box(pack_releases(pairs))))

    def remember_module(self, module: Any) -> Any:
        """Cache the functions and classes looked up on `module` (a proxy from conn.modules)."""
        self._hrpyc_modules.add(object.__getattribute__(module, "____id_pack__"))
        return module

    def _netref_factory(self, id_pack):  # type: ignore[no-untyped-def]
        is_class = id_pack[2] == 0
        if is_class:  # a builtin exception class is itself; another one met before, its mirror
            local = self._hrpyc_local_classes.get(id_pack) or self._hrpyc_errors.local_class(id_pack[0])
            if local is not None:
                return local
        key = (id_pack[0], id_pack[1], is_class)  # instances of one class share its proxy class
        cls = self._hrpyc_classes.get(key)
        if cls is None:
            base = netref.builtin_classes_cache.get(id_pack[0])
            if base is None:
                base = netref.class_factory(id_pack, self.sync_request(consts.HANDLE_INSPECT, id_pack))
            cls = self._hrpyc_classes[key] = _one_trip_class(base)
        proxy = cls(self, id_pack)
        if is_class and _EXCEPTION_METHOD in vars(cls):  # an exception class, most likely: ask the server
            mirror = self._hrpyc_errors.mirror(proxy)
            if mirror is not None:
                self._hrpyc_local_classes[id_pack] = mirror
                return mirror
        return proxy

    def _unbox_exc(self, raw):  # type: ignore[no-untyped-def]
        # rpyc's error: ((module, class name), args, attributes, traceback text); StopIteration's constant
        # and Python 2's string exceptions are left to rpyc.
        if type(raw) is not tuple or len(raw) != 4 or type(raw[0]) is not tuple or len(raw[0]) != 2:
            return super()._unbox_exc(raw)
        (module, name), args, attrs, text = raw
        return self._hrpyc_errors.error(module, name, args, attrs, text)

    def _lineage(self, *what: Any) -> Any:
        """remote_errors.lineage(*what), in the server: its source goes there once, through the classic
        service's eval, so that an hrpyc server of any version and a stock server answer alike."""
        if self._hrpyc_lineage is None:
            self._hrpyc_lineage = self.eval(shipped_lineage())  # type: ignore[attr-defined]  # ClassicClient's
        return self._hrpyc_lineage(*what)

    def _looked_up(self, owner: Any, name: str) -> Any:
        id_pack = object.__getattribute__(owner, "____id_pack__")
        if id_pack not in self._hrpyc_modules:
            return _PLAIN_NETREF_GETATTRIBUTE(owner, name)
        key = (id_pack, name)
        value = self._hrpyc_lookups.get(key, _MISSING)
        if value is _MISSING:
            value = _PLAIN_NETREF_GETATTRIBUTE(owner, name)
            if isinstance(value, netref.BaseNetref):
                if object.__getattribute__(value, "____id_pack__")[0] in _STABLE_KINDS:
                    self._hrpyc_lookups[key] = value
            elif isinstance(value, type):  # a remote exception class: our local one (see _netref_factory)
                self._hrpyc_lookups[key] = value
        return value

    def sync_request(self, handler, *args):  # type: ignore[no-untyped-def]
        released = self._hrpyc_released
        if released and (
            len(released) >= RELEASE_BATCH or time.monotonic() - self._hrpyc_released_since >= RELEASE_AGE
        ):
            self._send_releases()
        try:
            with main_thread_parked():
                return super().sync_request(handler, *args)
        except KeyboardInterrupt:  # Ctrl-C while we wait: one line, not the frames of rpyc's wait
            raise KeyboardInterrupt from None
        except EOFError as exc:
            if raised_there(exc):
                raise exc.with_traceback(None) from exc.__cause__
            raise ConnectionLostError(self.address) from None
        except rpyc.AsyncResultTimeout as exc:  # the builtin TimeoutError: ours, the server's, rpyc's
            if isinstance(exc, RequestTimeoutError):
                raise
            seconds = sync_timeout(self) or 0
            said = str(exc.args[0]) if exc.args else ""
            holder = busy_holder(said)
            if holder is not None:
                raise HoudiniBusyError(self.address, seconds, printable(holder, 300)) from None
            if raised_there(exc):  # the code the server ran raised it
                raise exc.with_traceback(None) from exc.__cause__
            raise RequestTimeoutError(self.address, seconds) from None
        except Exception as exc:
            if raised_there(exc):  # its traceback from here: not rpyc's frames under this call
                raise exc.with_traceback(None) from exc.__cause__
            raise


_MISSING = object()
_EXCEPTION_METHOD = "with_traceback"  # BaseException's: rpyc lists it among an exception class's methods
_PLAIN_NETREF_GETATTRIBUTE = netref.BaseNetref.__getattribute__
_PLAIN_NETREF_DEL = netref.BaseNetref.__del__


class _Proxies(WeakValueDict):  # type: ignore[misc]
    """rpyc's proxies by id_pack, without the local classes _netref_factory gives for remote exception
    classes: rpyc counts one more reference on what it finds here, and a class is no proxy."""

    def __setitem__(self, id_pack: Any, proxy: Any) -> None:
        if isinstance(proxy, netref.BaseNetref):
            super().__setitem__(id_pack, proxy)


def _dropped(self: Any) -> None:
    """The proxy classes' __del__: raises nothing, as rpyc's (it may run at exit, the connection gone)."""
    try:
        conn = object.__getattribute__(self, "____conn__")
        if not conn.closed:
            conn.released(self)
    except Exception:
        pass


def _one_trip_class(base: type) -> type:
    """A copy of `base` (an rpyc proxy class) answering its known methods with their one-message stubs.

    A copy, not a subclass: subclassing calls the remote class's __init_subclass__ stub, and rpyc's
    proxy classes of builtin types are shared by every connection in the process."""
    methods = frozenset(
        name
        for name, value in vars(base).items()
        if isinstance(value, types.FunctionType) and not name.startswith("__")
    )

    def __getattribute__(self: Any, name: str) -> Any:
        if name in methods:
            return object.__getattribute__(self, name)  # rpyc's stub: CALLATTR when called
        if name.startswith("__") and name.endswith("__"):
            return _PLAIN_NETREF_GETATTRIBUTE(self, name)
        return object.__getattribute__(self, "____conn__")._looked_up(self, name)

    namespace = dict(vars(base), __getattribute__=__getattribute__, __del__=_dropped)
    return type(base)(base.__name__, base.__bases__, namespace)


class ClientService(ClassicClient):
    """Reaches the server's modules and exposes nothing of ours (rpyc.classic.connect would).

    `greet(conn)` runs as the connection opens, before rpyc's classic set-up asks the server for
    anything: our handshake is then the first request after rpyc's own (see Request.opening)."""

    __slots__ = ("_greet",)
    _protocol = ClientConnection

    def __init__(self, greet: Callable[[ClientConnection], None]) -> None:
        self._greet = greet

    def on_connect(self, conn):  # type: ignore[no-untyped-def]
        self._greet(conn)
        super().on_connect(conn)

    def exposed_getmodule(self, name):  # type: ignore[no-untyped-def]
        """No module for anyone. A stock classic server (rpyc >= 5) fetches our `builtins` as it
        connects and drops us if that call fails, so answer None rather than raise."""
        return None
