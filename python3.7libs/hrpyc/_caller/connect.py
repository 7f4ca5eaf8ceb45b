"""Client side: connecting to a Houdini: where socket and rpyc errors become hrpyc's one-line errors."""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple, Union, overload

import rpyc

from hrpyc._auth import proof
from hrpyc._auth.tls import client_context
from hrpyc._caller import challenge
from hrpyc._caller.connection import ClientConnection, ClientService
from hrpyc._common import config, discovery, identity, sessions
from hrpyc._common.address import DEFAULT_HOST, DEFAULT_PORT, format_address, is_ipv6, is_loopback, server_and_port
from hrpyc._common.printable import printable_error, printable_pairs
from hrpyc._wire import lane
from hrpyc._wire.rpyc_versions import (
    GENERATION,
    RELEASE_CAPABILITY,
    RPYC_VERSION_STRING,
    FastSocketStream,
    set_compression,
    set_request_timeout,
)
from hrpyc.errors import (
    AuthenticationError,
    HrpycError,
    ProtocolError,
    RemoteImportError,
    RequestTimeoutError,
    ServerNotFoundError,
    Setting,
    TooManyClientsError,
    VersionMismatchError,
)

__all__ = ["connect", "import_remote_module"]

CONNECT_TIMEOUT = 5.0  # seconds to reach the host and hear rpyc answer; rpyc alone retries for ~20 s


def connect(
    server: Union[str, int] = DEFAULT_HOST,
    port: Optional[int] = None,
    *,
    timeout: Optional[config.Seconds] = None,
    token: Optional[str] = None,
    cafile: Optional[str] = None,
    certfile: Optional[str] = None,
    keyfile: Optional[str] = None,
    serve_callbacks: bool = False,
    allow_other_users: bool = False,
) -> ClientConnection:
    """An rpyc connection to the hrpyc (or stock rpyc classic) server at server:port.

    Our side exposes nothing: unlike rpyc.classic.connect, the server cannot reach into this process.
    `server`: a host name or address, `"HOST:PORT"`, or a port number alone (this machine's).
    `port`: None finds this user's only hrpyc session on this machine (several: MultipleSessionsError
    lists them), else SideFX's 18811.
    `timeout` is seconds per request (None: HRPYC_TIMEOUT or 30; 0 or math.inf: no limit).
    `token`: the server's token (None: HRPYC_TOKEN or HRPYC_TOKEN_FILE, or this user's own for a local
    server started with token='auto'). `cafile` (HRPYC_TLS_CA): connect over TLS and trust the server
    certificate it signed; `certfile`/`keyfile` (HRPYC_TLS_CERT/KEY): our certificate, if it asks.
    `serve_callbacks`: serve the server's calls into our functions (event callbacks) as they come,
    from a background thread, instead of only while we wait for an answer; close such a connection
    yourself (or use `with`), as the thread keeps it alive.
    `allow_other_users`: go on when the server on this machine belongs to another OS user (by default
    that is NotYourServerError before anything is sent: it may be a relay, or a squatter on your port).
    """
    seconds = config.request_timeout(timeout)
    server, port = server_and_port(server, port)
    if port is None:
        port = discovery.local_port(server) or DEFAULT_PORT
    address = format_address(server, port)
    reach = CONNECT_TIMEOUT if seconds is None else min(CONNECT_TIMEOUT, seconds)
    tls = _tls_context(cafile, certfile, keyfile)

    reached: List[Tuple[str, int]] = []

    def dial() -> socket.socket:
        """A socket to this server, through TLS if asked: the connection's, and each bulk lane's - those to
        the address the first one reached (a name may resolve to several)."""
        sock = _open(server, reached or _addresses(server, port, address), address, reach, tls)
        try:
            if not allow_other_users:
                challenge.check_owner(sock, address)
        except BaseException:
            sock.close()
            raise
        return sock

    sock = dial()
    reached.append(sock.getpeername()[:2])
    try:
        secret = challenge.client_token(token, reached[0], address)
        if secret is not None:
            challenge.prove(sock, secret, address, None if token is not None else config.token_variable())
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)

    def hello(conn: ClientConnection) -> None:
        """The handshake: say how long we wait and who we are, learn what the server is and our
        bulk-lane key."""
        try:
            root: Any = conn.root
            try:
                answer = root.hrpyc_hello(seconds, identity.own())
            except TypeError:  # an hrpyc server older than client identity
                answer = root.hrpyc_hello(seconds)
            conn.server_info = printable_pairs(answer)  # odd fields '?'; an odd answer: ValueError, one line
            # Nagle's algorithm off, as every hrpyc server has it: our answers to its calls into us (it reads
            # a list we pass) leave at once. A stock server keeps it on: off on one end alone is slower.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.lane_key = bytes.fromhex(conn.server_info.pop(lane.HANDSHAKE_KEY, ""))
            conn.batch_releases = conn.server_info.get(RELEASE_CAPABILITY[0]) == RELEASE_CAPABILITY[1]
        except AttributeError:  # a stock rpyc server
            conn.server_info = {}

    stream = _HeaderStream(sock) if secret is None else FastSocketStream(sock)
    try:
        # TCP_NODELAY is set in hello, once an hrpyc server answers (every hrpyc server sets it too).
        conn: ClientConnection = rpyc.connect_stream(  # ClientService makes it one
            stream,
            ClientService(hello),  # pyright: ignore[reportArgumentType]  # rpyc takes an instance as well as a class
            {"sync_request_timeout": reach},
        )  # the first requests (the server's root, our handshake) happen here
    except RequestTimeoutError:
        sock.close()
        raise ProtocolError(address, "no rpyc answer within {:g} s".format(reach)) from None
    except EOFError:
        sock.close()
        _check_busy(stream, address)
        if secret is None and _asks_for_token(reached[0], dial):
            raise AuthenticationError.token_needed(address) from None
        raise ProtocolError(
            address,
            "it closed the connection at once: it may want a token ({} or HRPYC_TOKEN) or TLS, or speak "
            "another rpyc generation (rpyc 6 and rpyc < 6 cannot talk unless the server is hrpyc)",
            Setting("token"),
        ) from None
    except Exception as exc:  # ValueError: brine could not read its frames; or whatever a rogue server raised
        sock.close()
        _check_busy(stream, address)
        mismatch = _other_generation(exc)
        if mismatch is not None:
            raise VersionMismatchError(address, *mismatch) from None
        raise ProtocolError(address, printable_error(exc)) from None
    conn.address = address
    conn.dial = dial
    set_request_timeout(conn, seconds)
    set_compression(conn, not is_loopback(sock.getpeername()[0]))
    if serve_callbacks:
        rpyc.BgServingThread(conn, callback=lambda: None)  # ends quietly when the connection closes
    return conn


class _HeaderStream(FastSocketStream):
    """Our stream, keeping the first frame header the server sent: where a busy gate's answer arrives
    when we offer no token (see proof.busy_reply; with one, challenge.prove reads it)."""

    __slots__ = ("header",)

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self.header = b""

    def read(self, count: int) -> bytes:
        data = super().read(count)
        if not self.header:
            self.header = data
        return data


def _check_busy(stream: FastSocketStream, address: str) -> None:
    """TooManyClientsError if the server's first answer was a busy gate's."""
    others = proof.busy_others(stream.header) if isinstance(stream, _HeaderStream) else None
    if others is not None:
        raise TooManyClientsError(address, busy=True, others=others) from None


def _asks_for_token(peer: Tuple[str, int], dial: Callable[[], socket.socket]) -> bool:
    """A server hung up on us at once, and we offered no token: does it ask for one? Its session record
    says so, if this user runs it here; else the server's first answer to the token challenge does."""
    record = sessions.serving(peer)
    if record is not None:
        return record.get("auth") == "token"
    try:
        sock = dial()
    except HrpycError:  # gone meanwhile: say what we saw
        return False
    return challenge.asks_for_token(sock)


def _other_generation(exc: BaseException) -> Optional[Tuple[str, str, str]]:
    """(server, client, fix) when rpyc's error means the server speaks the other generation's envelope."""
    if not isinstance(exc, ValueError) or GENERATION.other_answer_error not in str(exc):
        return None
    fix = "pip install {} for this client, or serve with hrpyc there (it answers every rpyc)".format(
        GENERATION.other_requirement
    )
    return GENERATION.other, "rpyc " + RPYC_VERSION_STRING, fix


def _tls_context(cafile: Optional[str], certfile: Optional[str], keyfile: Optional[str]) -> Optional[ssl.SSLContext]:
    certfile, keyfile, cafile = config.tls_files(certfile, keyfile, cafile)
    return client_context(cafile, certfile, keyfile) if cafile or certfile else None


def _addresses(server: str, port: int, address: str) -> List[Tuple[str, int]]:
    """Where `server` resolves to, in the order to try. A loopback name (localhost) tries IPv4 first - or
    first the address this user's session on that port listens on: servers listen on 127.0.0.1 by
    default, and a refused [::1] costs 2 s on Windows, or reaches whoever else listens there."""
    try:
        infos = socket.getaddrinfo(server, port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServerNotFoundError.unknown_host(address, "unknown host: {}".format(exc.strerror)) from None
    except (ValueError, UnicodeError) as exc:  # a NUL byte, a label of 64 characters or more
        raise ServerNotFoundError.unknown_host(address, "not a host name: {}".format(exc)) from None
    found = [(str(info[4][0]), port) for info in infos]
    if len(found) > 1 and all(is_loopback(host) for host, _ in found):
        found.sort(key=lambda place: (sessions.serving(place) is None, is_ipv6(place[0])))
    return list(dict.fromkeys(found))


def _open(
    server: str, places: List[Tuple[str, int]], address: str, reach: float, tls: Optional[ssl.SSLContext]
) -> socket.socket:
    """A socket connected to the first of `places` that answers, through TLS when `tls` is given, or a
    one-line error."""
    failed: OSError = ConnectionRefusedError()
    for place in places:
        try:
            sock = socket.create_connection(place, timeout=reach)
            break
        except OSError as exc:
            failed = exc
    else:
        if isinstance(failed, ConnectionRefusedError):
            raise ServerNotFoundError(address, "connection refused") from None
        if isinstance(failed, socket.timeout):
            raise ServerNotFoundError(address, "no answer within {:g} s".format(reach)) from None
        raise ServerNotFoundError(address, failed.strerror or str(failed)) from None
    if tls is None:
        return sock
    try:
        return tls.wrap_socket(sock, server_hostname=server)
    except ssl.SSLCertVerificationError as exc:  # say which: expired, self-signed, untrusted, wrong host
        sock.close()
        why = exc.verify_message or exc.reason
        raise ProtocolError(
            address, "TLS failed: the server's certificate: {}; check HRPYC_TLS_CA / {}", why, Setting("cafile")
        ) from None
    except ssl.SSLError as exc:
        sock.close()
        if exc.reason == proof.TLS_BUSY_REASON:
            raise TooManyClientsError(address, busy=True) from None
        raise ProtocolError(address, "TLS failed: {}; check HRPYC_TLS_CA / {}", exc.reason, Setting("cafile")) from None
    except socket.timeout:
        sock.close()
        raise ProtocolError(address, "no TLS answer (a server without TLS?)") from None


if TYPE_CHECKING:  # read by type checkers only: Python 3.7 and clients without the stubs import nothing
    import types
    from typing import Literal  # novermin: read by type checkers only

    import hou as _HOU  # the stubs of types-houdini, when installed
    from typing_extensions import TypeVar

    # No annotation can name "the module hou"; a type variable solved from the default of a keyword
    # nobody passes carries it: pyright (VS Code's Pylance) keeps Module("hou"). mypy falls back to
    # the variable's default, ModuleType, whose attributes are Any - as before, never an error: mypy
    # checks a module's attributes only through a name bound to the module itself.
    _Module = TypeVar("_Module", default=types.ModuleType)
else:
    _HOU = None  # never used: overloads do not run


@overload
def import_remote_module(
    server: Union[str, int] = ...,
    port: Optional[int] = ...,
    name: Literal["hou"] = ...,
    *,
    timeout: Optional[config.Seconds] = ...,
    serve_callbacks: bool = ...,
    allow_other_users: bool = ...,
    _module: _Module = _HOU,  # type: ignore[assignment]  # for type checkers only: never pass it
    **credentials: Optional[str],
) -> Tuple[ClientConnection, _Module]: ...


@overload
def import_remote_module(
    server: Union[str, int] = ...,
    port: Optional[int] = ...,
    name: str = ...,
    *,
    timeout: Optional[config.Seconds] = ...,
    serve_callbacks: bool = ...,
    allow_other_users: bool = ...,
    **credentials: Optional[str],
) -> Tuple[ClientConnection, Any]: ...


def import_remote_module(  # type: ignore[misc]  # the overloads' _module exists for type checkers only
    server: Union[str, int] = DEFAULT_HOST,
    port: Optional[int] = None,
    name: str = "hou",
    *,
    timeout: Optional[config.Seconds] = None,
    serve_callbacks: bool = False,
    allow_other_users: bool = False,
    **credentials: Optional[str],
) -> Tuple[ClientConnection, Any]:
    """`(connection, module)`: the server's `name` module, used as if it were local (typed as the `hou`
    module where types-houdini is installed). `server` and `port` as for `connect`: `(18811)`,
    `("render07")`, `("render07:18812")` and `("render07", 18812)` all work.

    Keep `connection` (or the module) referenced: the link closes when both are garbage-collected.
    `credentials`: token, cafile, certfile, keyfile, as for `connect`; `allow_other_users` too.
    """
    conn = connect(
        server,
        port,
        timeout=timeout,
        serve_callbacks=serve_callbacks,
        allow_other_users=allow_other_users,
        **credentials,
    )
    try:
        module = conn.remember_module(conn.modules[name])
    except ImportError:
        conn.close()
        raise RemoteImportError(name, conn.address) from None
    return conn, module
