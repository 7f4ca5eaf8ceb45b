"""Both sides: large buffers on a lane of their own: a second socket to the server's address that carries
one buffer straight from one process's memory into the other's. rpyc's frames copy a buffer five or six
times on the way (brine, framing, reading), and one copy of 100 MB costs as long as the socket takes to
move it.

Our client's connection learns its lane key in its handshake (hrpyc_hello). A buffer then travels as a
`Shipped` pair: `(the bytes, 0)` inline when small (a second socket costs more than copying them), or
`(b"", number)` for a parcel waiting on the lane. A lane socket passes the server's gate like a
connection (TLS first, if any), then says in one go:

    MAGIC + key + GET + number          the server answers OK + length + the bytes, and hangs up
    MAGIC + key + PUT + length + bytes  the server answers OK + the number it filed them under

Each parcel is fetched once; what a connection leaves on its lane goes when the connection closes.

Bounds on the server: MAX_LANES transfers of a connection at once (beyond, BUSY at once; our client
keeps to it); an upload of at most MAX_PARCEL bytes (beyond, TOO_LARGE before anything is read), for
which the server takes memory before the bytes arrive only within RESERVED bytes for all uploads at
once, and beyond that as they arrive (see Lanes._upload); and a transfer must keep up with a deadline
that only moved bytes extend (see _PacedSocket), so a drip is cut STALL seconds in.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import secrets
import socket
import struct
import threading
import time
import weakref
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from hrpyc._common.streams import read_exactly
from hrpyc._wire.rpyc_versions import sync_timeout
from hrpyc.errors import HrpycError, TransferError

__all__ = ["HANDSHAKE_KEY", "INLINE_LIMIT", "MAGIC", "Buffer", "Lanes", "Shipped", "receive", "send"]

MAGIC = b"HRPYC\x02"
HANDSHAKE_KEY = "lane"  # the pair of the handshake's answer that carries the key, in hex
KEY_SIZE = 32
GET, PUT = b"g", b"p"
OK, MISSING, BUSY, TOO_LARGE = b"\x01", b"\x00", b"\x02", b"\x03"
INLINE_LIMIT = 256 << 10  # bytes; below this a buffer travels inline in the rpyc message
STALL = 30.0  # seconds a transfer may take before it must have moved anything
MIN_RATE = 1 << 20  # bytes a second a transfer must average, beyond STALL, before it is cut
# Lane transfers of one connection at once: a buffer moves at memory speed on loopback, so more in
# parallel gain nothing there; each holds a socket and a thread of the server.
MAX_LANES = 4
HANG_UP_WAIT = 5.0  # seconds our client waits for the server to hang up after a transfer
MAX_PARCEL = 16 << 30  # bytes one upload may declare
RESERVED = 1 << 30  # bytes the server may take for uploads before they arrive, all lanes together
FIRST_PIECE, PIECE = 64 << 10, 1 << 20  # beyond RESERVED, an upload is read in pieces (see _read_in_pieces)

_NUMBER = struct.Struct(">Q")
_BROKE_OFF = "the lane's message broke off"  # the EOFError of a message cut short

Shipped = Tuple[bytes, int]
Buffer = Union[bytes, bytearray, memoryview]


class _Lane(object):
    """One connection's parcels. Filing and taking are single dict operations, atomic in CPython."""

    __slots__ = ("_numbers", "_parcels", "busy", "key")

    def __init__(self) -> None:
        self.key = secrets.token_bytes(KEY_SIZE)
        self._parcels: Dict[int, memoryview] = {}
        self._numbers = itertools.count(1)
        self.busy = 0  # its transfers under way (under Lanes._lock)

    def file(self, data: Buffer) -> int:
        number = next(self._numbers)
        self._parcels[number] = _bytes_view(data)
        return number

    def take(self, number: int) -> Optional[memoryview]:
        return self._parcels.pop(number, None)


class Lanes(object):
    """The server's side: a lane for each connection that asked for one, and the lane sockets' service.

    `enabled` is False when the gate cannot tell a lane socket from an rpyc client (TLS without a
    token); buffers then travel inline, slower but the same to the caller."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._lock = threading.Lock()
        self._by_owner: Dict[Any, _Lane] = {}
        self._by_key: Dict[bytes, _Lane] = {}
        self._reserved = 0  # bytes of uploads under way taken before they arrived (see _upload)

    def open(self, owner: Any) -> bytes:
        """The key of `owner`'s lane, made on first ask; b"" when this server offers no lanes."""
        if not self._enabled:
            return b""
        with self._lock:
            lane = self._by_owner.get(owner)
            if lane is None:
                lane = self._by_owner[owner] = _Lane()
                self._by_key[lane.key] = lane
            return lane.key

    def close(self, owner: Any) -> None:
        """Drop `owner`'s lane and every parcel still on it."""
        with self._lock:
            lane = self._by_owner.pop(owner, None)
            if lane is not None:
                del self._by_key[lane.key]

    def find(self, key: bytes) -> Optional[_Lane]:
        """The lane a socket's key names (the gate's check), or None."""
        with self._lock:
            return self._by_key.get(key)

    def ship(self, owner: Any, data: Buffer) -> Shipped:
        """`data` for `owner`: inline when small or when it has no lane, else filed as a parcel."""
        lane = self._by_owner.get(owner)
        view = _bytes_view(data)
        if lane is None or view.nbytes < INLINE_LIMIT:
            return _inline(data, view)
        return b"", lane.file(view)

    def unship(self, owner: Any, shipped: Shipped) -> bytes:
        """What `owner` shipped to us: inline, or the parcel it put on its lane."""
        data, number = shipped
        if not number:
            return data
        lane = self._by_owner.get(owner)
        parcel = lane.take(number) if lane is not None else None
        if parcel is None:
            raise ValueError(
                "no buffer {} on this connection's lane (sent twice, or on another connection?)".format(number)
            )
        received = parcel.obj  # what the lane read: one bytes object, handed on without a copy
        return received if isinstance(received, bytes) and len(received) == parcel.nbytes else parcel.tobytes()

    def serve(self, sock: socket.socket, credentials: Any) -> bool:
        """Serve `sock` if the gate let it in as a lane (True), else leave it to rpyc (False).
        A client that hangs up, stalls or goes beyond a bound loses its own transfer and nothing else."""
        if not isinstance(credentials, _Lane):
            return False
        with self._lock:
            busy = credentials.busy >= MAX_LANES
            if not busy:
                credentials.busy += 1
        try:
            sock.settimeout(STALL)
            if busy:
                sock.sendall(BUSY)
            else:
                self._transfer(sock, credentials)
        except (OSError, EOFError, ValueError, OverflowError, MemoryError):
            pass  # a hang-up, a stall, memory short: that transfer is lost, nothing else
        finally:
            if not busy:
                with self._lock:
                    credentials.busy -= 1
        return True

    def _transfer(self, sock: socket.socket, lane: _Lane) -> None:
        pace = _PacedSocket(sock)
        with io.BufferedReader(pace) as reader:
            head = read_exactly(reader.read, 1 + _NUMBER.size, _BROKE_OFF)
            op, number = head[:1], _NUMBER.unpack(head[1:])[0]
            if op == GET:
                parcel = lane.take(number)
                if parcel is None:
                    sock.sendall(MISSING)
                else:
                    sock.sendall(OK + _NUMBER.pack(parcel.nbytes))
                    _send_buffer(sock, parcel, pace)
            elif op == PUT:
                if number > MAX_PARCEL:
                    sock.sendall(TOO_LARGE)
                else:
                    data = self._upload(reader, number)
                    pace.step()
                    sock.sendall(OK + _NUMBER.pack(lane.file(data)))

    def _upload(self, reader: io.BufferedIOBase, size: int) -> bytes:
        """An upload's bytes: read straight into one bytes object while the uploads under way have
        RESERVED bytes or less between them (memory taken before the bytes arrive), else into pieces as
        they arrive, joined at the end (one copy): what declared sizes reserve is bounded."""
        with self._lock:
            reserved = self._reserved + size <= RESERVED
            if reserved:
                self._reserved += size
        try:
            return read_exactly(reader.read, size, _BROKE_OFF) if reserved else _read_in_pieces(reader, size)
        finally:
            if reserved:
                with self._lock:
                    self._reserved -= size


class _PacedSocket(io.RawIOBase):
    """A lane socket as a file, with its transfer's deadline: STALL seconds, and one more for every
    MIN_RATE bytes moved so far. Only bytes that move buy time, so a peer that drips (a byte every few
    seconds), whatever size it declared, is cut STALL seconds in; a transfer at MIN_RATE or faster never is."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock, self._started, self.moved = sock, time.monotonic(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.step()
        count = self._sock.recv_into(buffer)
        self.moved += count
        return count

    def step(self) -> None:
        """Before each read or write: the socket waits no longer than the deadline."""
        left = self._started + STALL + self.moved / MIN_RATE - time.monotonic()
        if left <= 0:
            raise socket.timeout("the transfer fell behind its deadline")
        self._sock.settimeout(left)


def _read_in_pieces(reader: io.BufferedIOBase, size: int) -> bytes:
    """`size` bytes, read into pieces as they arrive (FIRST_PIECE, then as large as what arrived, up to
    PIECE) and joined: memory follows what arrived, not what was declared."""
    pieces: List[bytearray] = []
    got = 0
    while got < size:
        piece = bytearray(min(size - got, PIECE, max(FIRST_PIECE, got)))
        if reader.readinto(piece) != len(piece):
            raise EOFError(_BROKE_OFF)
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


def _send_buffer(sock: socket.socket, view: memoryview, pace: Optional[_PacedSocket] = None) -> None:
    """All of `view`, without copying it; `pace` (the server's) bounds the whole, else the socket's
    timeout bounds each step."""
    sent, total = 0, view.nbytes
    while sent < total:
        if pace is not None:
            pace.step()
        count = sock.send(view[sent:])
        sent += count
        if pace is not None:
            pace.moved += count


def _bytes_view(data: Buffer) -> memoryview:
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _inline(data: Buffer, view: memoryview) -> Shipped:
    return (data if isinstance(data, bytes) else view.tobytes()), 0


# The client's side. A connection made by hrpyc.connect carries `dial` (a socket to the same server,
# TLS included) and `lane_key` (from its handshake).


def send(conn: Any, data: Buffer) -> Shipped:
    """Ship `data` to the server: inline when small or the server offers no lane, else by the lane."""
    view = _bytes_view(data)
    if view.nbytes < INLINE_LIMIT or not conn.lane_key:
        return _inline(data, view)
    if view.nbytes > MAX_PARCEL:
        raise HrpycError(
            "a buffer of {:,} bytes is more than the bulk lane carries ({:,}); send it in parts".format(
                view.nbytes, MAX_PARCEL
            )
        )
    with _lane_socket(conn, PUT, view.nbytes, "to") as sock:
        _send_buffer(sock, view)
        with sock.makefile("rb") as reader:
            status, number = _read_answer(reader)
        if status != OK:
            raise TransferError(conn.address, "to", _REFUSALS.get(status, "the server did not take the buffer"))
        return b"", number


def receive(conn: Any, shipped: Shipped) -> bytes:
    """The bytes the server shipped: inline, or fetched from its lane."""
    data, number = shipped
    if not number:
        return data
    with _lane_socket(conn, GET, number, "from") as sock, sock.makefile("rb") as reader:
        status, size = _read_answer(reader)
        if status != OK:
            raise TransferError(conn.address, "from", _REFUSALS.get(status, "the server no longer holds that buffer"))
        if size > MAX_PARCEL:
            raise TransferError(conn.address, "from", "it announced {:,} bytes, more than a lane carries".format(size))
        data = reader.read(size)  # straight into one bytes object: no copy on our side
    if len(data) != size:
        raise TransferError(conn.address, "from", "it broke off after {:,} of {:,} bytes".format(len(data), size))
    return data


_REFUSALS = {
    BUSY: "the server had {} transfers of this connection under way, the most it takes at once".format(MAX_LANES),
    TOO_LARGE: "more than the server takes in one buffer",
}
_turns: weakref.WeakKeyDictionary[Any, threading.Semaphore] = weakref.WeakKeyDictionary()
_turns_lock = threading.Lock()


def _turn(conn: Any) -> threading.Semaphore:
    """`conn`'s turns on its lane: our client keeps to the server's MAX_LANES, and threads beyond wait."""
    with _turns_lock:
        turn = _turns.get(conn)
        if turn is None:
            turn = _turns[conn] = threading.Semaphore(MAX_LANES)
        return turn


@contextlib.contextmanager
def _lane_socket(conn: Any, op: bytes, number: int, direction: str) -> Iterator[socket.socket]:
    """A lane socket that has said its request; socket errors become one-line TransferErrors."""
    try:
        with _turn(conn), conn.dial() as sock:
            sock.settimeout(sync_timeout(conn))
            sock.sendall(MAGIC + conn.lane_key + op + _NUMBER.pack(number))
            yield sock
            _hang_up_seen(sock)
    except HrpycError:
        raise
    except (OSError, EOFError) as exc:
        raise TransferError(conn.address, direction, "{}: {}".format(type(exc).__name__, exc)) from None


def _hang_up_seen(sock: socket.socket) -> None:
    """Wait (briefly) for the server to hang up: it counts the transfer out of MAX_LANES before it does,
    so only then may the next one take this turn without finding the server's places all taken."""
    try:
        sock.settimeout(HANG_UP_WAIT)
        while sock.recv(4096):
            pass
    except OSError:
        pass  # a server that keeps the socket (none does) costs the wait, nothing more


def _read_answer(reader: Any) -> Tuple[bytes, int]:
    status = reader.read(1)
    if status != OK:
        return status, 0
    return status, _NUMBER.unpack(read_exactly(reader.read, _NUMBER.size, _BROKE_OFF))[0]
