"""Everything that touches rpyc's internals or differs between rpyc 4.1, 5 and 6, in one place.

rpyc offers hooks but keeps them underscored; this module is the only one that uses them, so a new
rpyc release is checked here and nowhere else. Verified against 4.1.0, 4.1.5, 5.3.1 and 6.0.2.
"""

from __future__ import annotations

import inspect
import socket
import sys
import types
from typing import Any, Callable, Dict, Optional, Set, Tuple

import rpyc
from rpyc.core import consts, netref
from rpyc.core.channel import Channel
from rpyc.core.service import ClassicClient
from rpyc.core.stream import SocketStream
from rpyc.utils.server import ThreadedServer
from rpyc.version import version as _rpyc_version

from .address import is_ipv6
from .dispatch import main_thread_parked
from .errors import HoudiniBusyError, RequestTimeoutError

# rpyc 4.x spells its version as a tuple of ints, 5+ as a tuple of strings.
RPYC_VERSION: Tuple[int, ...] = tuple(int(part) for part in _rpyc_version[:3])
RPYC_VERSION_STRING = ".".join(str(part) for part in RPYC_VERSION)

# Requests that need neither hou nor the main thread: rpyc's bookkeeping. HANDLE_CLOSE releases what
# the client held, exactly as a dropped socket does on the connection's thread; queued behind a busy
# main thread it would hold the client's exit for rpyc 6's 30 s close timeout.
_LIGHT_HANDLERS = frozenset((consts.HANDLE_PING, consts.HANDLE_GETROOT, consts.HANDLE_INSPECT, consts.HANDLE_CLOSE))
SERVICE_PREFIX = "hrpyc_"


class Request(object):
    """One request from a client, as rpyc received it: run it where it must run, or refuse it."""

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
            root = self._conn._local_root
            if handler == consts.HANDLE_CALLATTR:  # second: (LABEL_VALUE, name); then the arguments
                return id_pack[2] == id(root) and _service_call_is_light(second[1], boxed[1][2])
            target = self._conn._local_objects[id_pack]
            if handler == consts.HANDLE_GETATTR:
                return target is root or _binds_only(target, second[1])
            # HANDLE_CALL of a bound method of the root; second: its arguments
            return getattr(target, "__self__", None) is root and _service_call_is_light(
                getattr(target, "__name__", ""), second
            )
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            return False

    @property
    def needs_no_reply(self) -> bool:
        """A proxy's deletion: the client does not wait for it, so neither need we."""
        return self._raw_args[0] == consts.HANDLE_DEL

    def run(self) -> None:
        """Unbox, run and reply, as rpyc would (an error in the request is the client's, not ours)."""
        rpyc.Connection._dispatch_request(self._conn, self._seq, self._raw_args)

    def refuse(self, exc: BaseException) -> None:
        """Reply with `exc` instead of running; a gone client is not an error."""
        try:
            self._conn._send(consts.MSG_EXCEPTION, self._seq, self._conn._box_exc(type(exc), exc, None))
        except (EOFError, OSError):
            pass


_FUNCTIONS = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    staticmethod,
    classmethod,
)
_PLAIN_GETATTRIBUTE = (object.__getattribute__, types.ModuleType.__getattribute__)


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


class ServerConnection(rpyc.Connection):
    """The server's end of one client: every incoming request goes to `request_hook`.

    `_dispatch_request(seq, raw_args)` is the whole of rpyc's request handling (unbox, run, reply) and
    has the same signature from 4.1.0 to 6.0.2, so wrapping it is how a request is counted and moved
    to the thread it must run on. `timeout` is how long the client waits for an answer: rpyc's 30 s
    unless our client says otherwise in its handshake.
    """

    request_hook: Optional[Callable[[Request], None]] = None
    timeout: Optional[float] = 30.0

    def _dispatch_request(self, seq, raw_args):  # type: ignore[no-untyped-def]
        hook = self.request_hook
        if hook is None:
            super()._dispatch_request(seq, raw_args)
        else:
            hook(Request(self, seq, raw_args))

    def serve_until_closed(self) -> None:
        """rpyc's serve_all, except that a peer that broke the protocol is cut off at once.

        rpyc >= 5.2's close() asks the peer to confirm and waits up to sync_request_timeout (30 s) for
        an answer a garbage-sending peer never gives; with its socket shut, close() returns at once.
        """
        try:
            while not self.closed:
                self.serve(None)
        except EOFError:
            pass
        except Exception:
            _shutdown(raw_socket(self))
            raise
        finally:
            self.close()


_STABLE_KINDS = ("builtins.function", "builtins.builtin_function_or_method", "builtins.type")


class ClientConnection(rpyc.Connection):
    """Our client's connection: one-line errors, and fewer round trips than rpyc's own proxies.

    rpyc fetches `proxy.method` as a remote bound-method object (GETATTR), calls it (CALL) and later
    drops it (DEL): three messages for `node.parm("tx")`. The proxy classes made here answer a known
    method locally with rpyc's own one-message CALLATTR stub. Classes are inspected once per remote
    class (rpyc 6 inspects again for every instance), and functions and classes looked up on an
    imported module (`hou.node`) are kept for the connection: a module's functions do not change.
    """

    address = "?"
    dial: Optional[Callable[[], socket.socket]] = None  # a new socket to the same server (the bulk lane's)
    lane_key = b""  # from the handshake; b"" when the server offers no bulk lane

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hrpyc_classes: Dict[Any, type] = {}
        self._hrpyc_modules: Set[Any] = set()
        self._hrpyc_lookups: Dict[Any, Any] = {}

    def remember_module(self, module: Any) -> Any:
        """Cache the functions and classes looked up on `module` (a proxy from conn.modules)."""
        self._hrpyc_modules.add(object.__getattribute__(module, "____id_pack__"))
        return module

    def _netref_factory(self, id_pack):  # type: ignore[no-untyped-def]
        key = (id_pack[0], id_pack[1], id_pack[2] == 0)  # instances of one class share its proxy class
        cls = self._hrpyc_classes.get(key)
        if cls is None:
            base = netref.builtin_classes_cache.get(id_pack[0])
            if base is None:
                base = netref.class_factory(id_pack, self.sync_request(consts.HANDLE_INSPECT, id_pack))
            cls = self._hrpyc_classes[key] = _one_trip_class(base)
        return cls(self, id_pack)

    def _looked_up(self, owner: Any, name: str) -> Any:
        id_pack = object.__getattribute__(owner, "____id_pack__")
        if id_pack not in self._hrpyc_modules:
            return _PLAIN_NETREF_GETATTRIBUTE(owner, name)
        key = (id_pack, name)
        value = self._hrpyc_lookups.get(key, _MISSING)
        if value is _MISSING:
            value = _PLAIN_NETREF_GETATTRIBUTE(owner, name)
            if (
                isinstance(value, netref.BaseNetref)
                and object.__getattribute__(value, "____id_pack__")[0] in _STABLE_KINDS
            ):
                self._hrpyc_lookups[key] = value
        return value

    def sync_request(self, handler, *args):  # type: ignore[no-untyped-def]
        try:
            with main_thread_parked():
                return super().sync_request(handler, *args)
        except rpyc.AsyncResultTimeout as exc:  # the builtin TimeoutError: ours, the server's, rpyc's
            if isinstance(exc, RequestTimeoutError):
                raise
            seconds = request_timeout(self) or 0
            if exc.args and str(exc.args[0]).startswith(HoudiniBusyError.MARK):
                raise HoudiniBusyError(self.address, seconds) from None
            raise RequestTimeoutError(self.address, seconds) from exc


_MISSING = object()
_PLAIN_NETREF_GETATTRIBUTE = netref.BaseNetref.__getattribute__


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

    namespace = dict(vars(base), __getattribute__=__getattribute__)
    return type(base)(base.__name__, base.__bases__, namespace)


class ClientService(ClassicClient):
    """Reaches the server's modules and exposes nothing of ours (rpyc.classic.connect would)."""

    __slots__ = ()
    _protocol = ClientConnection

    def exposed_getmodule(self, name):  # type: ignore[no-untyped-def]
        """No module for anyone. A stock classic server (rpyc >= 5) fetches our `builtins` as it
        connects and drops us if that call fails, so answer None rather than raise."""
        return None


# The one wire difference between rpyc < 6 and 6 is the envelope of each message (inner encodings
# are the same): rpyc < 6 sends brine((msg, seq, args)) - TUP3 tag, msg as a small int, seq, args;
# rpyc 6 sends the msg as a raw byte, then brine((seq, args)) - TUP2 tag, seq, args.
_NEW_ENVELOPE = RPYC_VERSION >= (6,)
_TUP2, _TUP3, _SMALL_INT = 0x11, 0x12, 0x50  # brine tags; small ints i are stored as the byte i + 0x50


def _to_old(payload: bytes) -> bytes:
    if len(payload) < 2 or payload[1] != _TUP2:
        raise ValueError("not an rpyc 6 message")
    return bytes((_TUP3, payload[0] + _SMALL_INT)) + payload[2:]


def _to_new(payload: bytes) -> bytes:
    if len(payload) < 2 or payload[0] != _TUP3 or not 0 <= payload[1] - _SMALL_INT < 0x10:
        raise ValueError("not an rpyc < 6 message")
    return bytes((payload[1] - _SMALL_INT, _TUP2)) + payload[2:]


class BridgingChannel(Channel):
    """The server's channel to one client: it reads the client's envelope from its first message (the
    client always speaks first) and, if it is the other rpyc generation's, translates both ways, so one
    server answers rpyc 4.1, 5 and 6 clients alike."""

    __slots__ = ("_incoming", "_outgoing")

    def __init__(self, stream: Any, compress: bool = True) -> None:
        super().__init__(stream, compress)
        self._incoming: Optional[Callable[[bytes], bytes]] = None
        self._outgoing: Optional[Callable[[bytes], bytes]] = None

    def recv(self) -> bytes:  # type: ignore[override]
        data = super().recv()
        if self._incoming is None:
            foreign = data[:1] != bytes((_TUP3,)) if not _NEW_ENVELOPE else data[:1] == bytes((_TUP3,))
            self._incoming = (_to_old if not _NEW_ENVELOPE else _to_new) if foreign else bytes
            self._outgoing = (_to_new if not _NEW_ENVELOPE else _to_old) if foreign else None
        return self._incoming(data)

    def send(self, data: bytes) -> None:  # type: ignore[override]
        super().send(self._outgoing(data) if self._outgoing is not None else data)


READ_PIECE = 8 << 20


class FastSocketStream(SocketStream):
    """rpyc's socket stream without its quadratic copying: rpyc sends a frame 8 kB at a time and
    re-slices the rest after each send, and joins reads of 8 kB; sendall and recv_into move a 100 MB
    frame in one pass."""

    __slots__ = ()

    def read(self, count: int) -> bytes:
        """`count` bytes, in pieces of at most READ_PIECE: a frame header may announce 4 GB that never
        come, and memory must only grow as data arrives."""
        pieces = []
        while count > 0:
            piece = bytearray(min(count, READ_PIECE))
            view, got = memoryview(piece), 0
            while got < len(piece):
                try:
                    received = self.sock.recv_into(view[got:], len(piece) - got)
                except OSError as exc:
                    self.close()
                    raise EOFError(exc) from None
                if not received:
                    self.close()
                    raise EOFError("connection closed by peer")
                got += received
            pieces.append(piece)
            count -= len(piece)
        return bytes(pieces[0]) if len(pieces) == 1 else b"".join(pieces)

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.close()
            raise EOFError(exc) from None


class ListeningServer(ThreadedServer):
    """rpyc's ThreadedServer, with our per-socket options and each connection handed to a callback;
    `serve_raw(sock, credentials)` first gets each authenticated socket, and keeps those it serves
    itself (the bulk lane's) from rpyc."""

    def __init__(
        self,
        service: type,
        host: str,
        port: int,
        authenticator: Callable[[socket.socket], Tuple[Any, Any]],
        logger: Any,
        serve_connection: Callable[[Any], None],
        serve_raw: Callable[[socket.socket, Any], bool],
        registrar: Optional[Any] = None,
    ) -> None:
        # Pass host and a fresh config dict: rpyc's defaults drifted ("" -> None in 5.0, one shared
        # protocol_config dict before 4.1.5).
        super().__init__(
            service,
            hostname=host,
            port=port,
            ipv6=is_ipv6(host),
            reuse_addr=True,
            authenticator=authenticator,
            registrar=registrar,
            auto_register=registrar is not None,
            protocol_config={},
            logger=logger,
        )
        self.listener.set_inheritable(False)
        self._serve_connection = serve_connection
        self._serve_raw = serve_raw

    def listen(self) -> None:
        """Start listening now, in the caller's thread, so clients connect as soon as we return."""
        self._listen()

    def _accept_method(self, sock):  # type: ignore[no-untyped-def]
        # rpyc never sets TCP_NODELAY on accepted sockets; small replies then wait ~40 ms for an ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._accept_method(sock)

    def _serve_client(self, sock, credentials):  # type: ignore[no-untyped-def]
        if self._serve_raw(sock, credentials):
            return
        try:
            super()._serve_client(sock, credentials)
        except OSError:
            pass  # the client left between authentication and its first byte (rpyc asks for its address)

    def _handle_connection(self, conn):  # type: ignore[no-untyped-def]
        # rpyc built a plain Channel and stream; nothing has been read yet, so ours take their place.
        conn._channel = BridgingChannel(FastSocketStream(conn._channel.stream.sock), conn._channel.compress)
        self._serve_connection(conn)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone


def shutdown(conn: rpyc.Connection) -> None:
    """Cut a connection at the socket: its serving thread sees EOF and cleans up after itself."""
    _shutdown(raw_socket(conn))


def raw_socket(conn: rpyc.Connection) -> socket.socket:
    return conn._channel.stream.sock


def peer_address(conn: rpyc.Connection) -> Tuple[str, int]:
    peer = conn._config["endpoints"][1]
    return peer[0], peer[1]


def set_compression(conn: rpyc.Connection, enabled: bool) -> None:
    """rpyc zlib-compresses every frame over 3 kB; on loopback that costs far more than it saves."""
    conn._channel.compress = enabled


def request_timeout(conn: rpyc.Connection) -> Optional[float]:
    return conn._config["sync_request_timeout"]


def set_request_timeout(conn: rpyc.Connection, seconds: Optional[float]) -> None:
    conn._config["sync_request_timeout"] = seconds
