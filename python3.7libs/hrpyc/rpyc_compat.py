"""Everything that touches rpyc's internals or differs between rpyc 4.1, 5 and 6, in one place.

rpyc offers hooks but keeps them underscored; this module is the only one that uses them, so a new
rpyc release is checked here and nowhere else. Verified against 4.1.0, 4.1.5, 5.3.1 and 6.0.2.
"""

from __future__ import annotations

import socket
from typing import Any, Callable, Optional, Tuple

import rpyc
from rpyc.core import consts
from rpyc.core.service import ClassicClient
from rpyc.utils.server import ThreadedServer
from rpyc.version import version as _rpyc_version

from .address import is_ipv6
from .errors import RequestTimeoutError

# rpyc 4.x spells its version as a tuple of ints, 5+ as a tuple of strings.
RPYC_VERSION: Tuple[int, ...] = tuple(int(part) for part in _rpyc_version[:3])
RPYC_VERSION_STRING = ".".join(str(part) for part in RPYC_VERSION)

HANDLE_PING = consts.HANDLE_PING

RequestHook = Callable[[int, Callable[[], None]], None]


class ServerConnection(rpyc.Connection):
    """The server's end of one client: every incoming request goes through `request_hook`.

    `_dispatch_request(seq, raw_args)` is the whole of rpyc's request handling (unbox, run, reply) and
    has the same signature from 4.1.0 to 6.0.2, so wrapping it is how a request is counted, timed and
    moved to the thread it must run on.
    """

    request_hook: Optional[RequestHook] = None

    def _dispatch_request(self, seq, raw_args):  # type: ignore[no-untyped-def]
        hook = self.request_hook
        run = super()._dispatch_request
        if hook is None:
            run(seq, raw_args)
        else:
            hook(raw_args[0], lambda: run(seq, raw_args))

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


class ClientConnection(rpyc.Connection):
    """Our client's connection: a request that runs out of time raises our one-line error."""

    address = "?"

    def sync_request(self, handler, *args):  # type: ignore[no-untyped-def]
        try:
            return super().sync_request(handler, *args)
        except rpyc.AsyncResultTimeout as exc:  # the builtin TimeoutError, raised by AsyncResult
            if isinstance(exc, RequestTimeoutError):
                raise
            raise RequestTimeoutError(self.address, request_timeout(self) or 0) from exc


class ClientService(ClassicClient):
    """Reaches the server's modules and exposes nothing of ours (rpyc.classic.connect would)."""

    __slots__ = ()
    _protocol = ClientConnection

    def exposed_getmodule(self, name):  # type: ignore[no-untyped-def]
        """No module for anyone. A stock classic server (rpyc >= 5) fetches our `builtins` as it
        connects and drops us if that call fails, so answer None rather than raise."""
        return None


class ListeningServer(ThreadedServer):
    """rpyc's ThreadedServer, with our per-socket options and each connection handed to a callback."""

    def __init__(
        self,
        service: type,
        host: str,
        port: int,
        protocol_config: dict,
        logger: Any,
        serve_connection: Callable[[Any], None],
    ) -> None:
        # Pass host and a fresh config dict: rpyc's defaults drifted ("" -> None in 5.0, one shared
        # protocol_config dict before 4.1.5).
        super().__init__(
            service,
            hostname=host,
            port=port,
            ipv6=is_ipv6(host),
            reuse_addr=True,
            protocol_config=dict(protocol_config),
            logger=logger,
        )
        self.listener.set_inheritable(False)
        self._serve_connection = serve_connection

    def listen(self) -> None:
        """Start listening now, in the caller's thread, so clients connect as soon as we return."""
        self._listen()

    def _accept_method(self, sock):  # type: ignore[no-untyped-def]
        # rpyc never sets TCP_NODELAY on accepted sockets; small replies then wait ~40 ms for an ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._accept_method(sock)

    def _handle_connection(self, conn):  # type: ignore[no-untyped-def]
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
