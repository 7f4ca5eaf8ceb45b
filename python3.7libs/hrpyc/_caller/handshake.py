"""Client side: rpyc's connection on a socket the server let in, and hrpyc's handshake on it: we say how
long we wait and who we are, and learn what the server is and our bulk-lane key."""

from __future__ import annotations

import socket
from typing import Any, Optional

import rpyc

from hrpyc._caller import failures
from hrpyc._caller.connection import ClientConnection, ClientService
from hrpyc._caller.dial import Dialer
from hrpyc._common import identity
from hrpyc._common.printable import printable_pairs
from hrpyc._wire import lane
from hrpyc._wire.rpyc_versions import RELEASE_CAPABILITY, FastSocketStream


def connection(sock: socket.socket, dial: Dialer, seconds: Optional[float], token_shown: bool) -> ClientConnection:
    """rpyc's connection on `sock`, our handshake made: the first requests (the server's root, our
    handshake) happen here, each within dial.reach; a failure closes `sock` and is one line (see
    failures.handshake_failed)."""
    stream = FastSocketStream(sock) if token_shown else _HeaderStream(sock)

    def hello(conn: ClientConnection) -> None:
        _hello(conn, sock, seconds)

    try:
        # TCP_NODELAY is set in _hello, once an hrpyc server answers (every hrpyc server sets it too).
        conn: ClientConnection = rpyc.connect_stream(  # ClientService makes it one
            stream,
            ClientService(hello),  # pyright: ignore[reportArgumentType]  # rpyc takes an instance as well as a class
            {"sync_request_timeout": dial.reach},
        )
    except Exception as exc:  # ValueError: brine could not read its frames; or whatever a rogue server raised
        sock.close()
        header = stream.header if isinstance(stream, _HeaderStream) else None
        raise failures.handshake_failed(exc, dial.address, dial.reach, header, dial.asks_for_token) from None
    return conn


def _hello(conn: ClientConnection, sock: socket.socket, seconds: Optional[float]) -> None:
    """The handshake: say how long we wait and who we are, learn what the server is and our bulk-lane key."""
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
