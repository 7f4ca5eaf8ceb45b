"""Client side: `hrpyc.connect` and `import_remote_module`: a server reached (hrpyc._caller.dial), our token
shown if it takes one, rpyc's connection and our handshake made (hrpyc._caller.handshake); what goes wrong
is one line (hrpyc._caller.failures)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Optional, Tuple, Union, overload

import rpyc

from hrpyc._caller import challenge, handshake
from hrpyc._caller.connection import ClientConnection
from hrpyc._caller.dial import Dialer
from hrpyc._common import config
from hrpyc._common.address import DEFAULT_HOST, is_loopback
from hrpyc._wire.rpyc_versions import set_compression, set_sync_timeout
from hrpyc.errors import RemoteImportError

__all__ = ["connect", "import_remote_module"]


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
    dial = Dialer(server, port, seconds, cafile, certfile, keyfile, allow_other_users)
    sock = dial.first()
    shown = _show_token(sock, dial, token)
    sock.settimeout(None)  # rpyc bounds each request from here on
    conn = handshake.connection(sock, dial, seconds, shown)
    conn.address = dial.address
    conn.dial = dial
    set_sync_timeout(conn, seconds)
    set_compression(conn, not is_loopback(sock.getpeername()[0]))
    if serve_callbacks:
        rpyc.BgServingThread(conn, callback=lambda: None)  # ends quietly when the connection closes
    return conn


def _show_token(sock: socket.socket, dial: Dialer, token: Optional[str]) -> bool:
    """Whether we showed the server a token (`token`, else the one challenge.client_token finds) and it took
    it; a refusal closes `sock` and is one line."""
    try:
        secret = challenge.client_token(token, dial.peer, dial.address)
        if secret is not None:
            challenge.prove(sock, secret, dial.address, None if token is not None else config.token_variable())
    except BaseException:
        sock.close()
        raise
    return secret is not None


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
