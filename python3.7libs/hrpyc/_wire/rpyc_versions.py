"""Both sides: what rpyc puts on the wire and how it differs between rpyc 4.1/5 and 6, picked once. rpyc's
underscored hooks are touched here (it imports nothing of hrpyc's), in _server.rpyc_hooks and _caller.connection
(built on it), and elsewhere only through this module's functions: a new rpyc is checked in these three alone
(verified: 4.1.0, 4.1.5, 5.3.1, 6.0.2)."""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time
import zlib
from importlib.util import MAGIC_NUMBER
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import rpyc
from rpyc.core.channel import Channel
from rpyc.core.stream import SocketStream
from rpyc.lib import Timeout
from rpyc.version import version as _rpyc_version

# rpyc 4.x spells its version as a tuple of ints, 5+ as a tuple of strings.
RPYC_VERSION: Tuple[int, ...] = tuple(int(part) for part in _rpyc_version[:3])
RPYC_VERSION_STRING = ".".join(str(part) for part in RPYC_VERSION)

# The one wire difference between rpyc < 6 and 6 is the envelope of each message (inner encodings
# are the same): rpyc < 6 sends brine((msg, seq, args)) - TUP3 tag, msg as a small int, seq, args;
# rpyc 6 sends the msg as a raw byte, then brine((seq, args)) - TUP2 tag, seq, args.
_TUP2, _TUP3, _SMALL_INT = 0x11, 0x12, 0x50  # brine tags; small ints i are stored as the byte i + 0x50


def _old_to_new(payload: bytes) -> bytes:
    if len(payload) < 2 or payload[0] != _TUP3 or not 0 <= payload[1] - _SMALL_INT < 0x10:
        raise ValueError("not an rpyc < 6 message")
    return bytes((payload[1] - _SMALL_INT, _TUP2)) + payload[2:]


def _new_to_old(payload: bytes) -> bytes:
    if len(payload) < 2 or payload[1] != _TUP2:
        raise ValueError("not an rpyc 6 message")
    return bytes((_TUP3, payload[0] + _SMALL_INT)) + payload[2:]


def _is_old(first_message: bytes) -> bool:
    return first_message[:1] == bytes((_TUP3,))


class Generation(NamedTuple):
    """What one rpyc generation does differently from the other, seen from a process that runs it."""

    old_envelope: bool  # rpyc < 6
    to_ours: Callable[[bytes], bytes]  # a message in the other generation's envelope, in ours
    to_theirs: Callable[[bytes], bytes]
    other: str  # the other generation, as an error names it
    other_answer_error: str  # what rpyc raises here when it reads the other generation's answer
    other_requirement: str  # pip's words for a client that talks to the other generation


# One row per generation, picked once; nothing downstream asks for rpyc's version again.
GENERATIONS = {
    "rpyc < 6": Generation(True, _new_to_old, _old_to_new, "rpyc 6", "not enough values to unpack", "'rpyc>=6'"),
    "rpyc 6": Generation(
        False,
        _old_to_new,
        _new_to_old,
        "rpyc < 6 (a stock server, Houdini's bundled rpyc?)",
        "invalid message type",
        "'rpyc>=4.1,<6'",
    ),
}
GENERATION = GENERATIONS["rpyc 6" if RPYC_VERSION >= (6,) else "rpyc < 6"]


# Our own request, understood by hrpyc servers only (they say so in the handshake): the proxies a client
# dropped, released in one message, where rpyc sends one HANDLE_DEL (and gets one reply) per proxy.
# Each (id_pack, refcount) pair, as HANDLE_DEL would have sent it, travels packed: the class names
# joined by NUL in one string, and the numbers (the id_pack's two, then the count) in one bytes. brine
# takes a step per element of a tuple on both sides: 16 pairs as tuples cost more than a call. It is
# never answered, travels in the same packet as the request that follows it, and is applied once the
# server has answered a request of that client's where hou runs (Houdini's main thread, in a graphical
# session: where rpyc would have run each HANDLE_DEL).
HANDLE_RELEASE = 0x48
RELEASE_CAPABILITY = ("release", "packed")  # the handshake's pair that says a server takes them
# The handshake's pair that says which bytecode a server runs (importlib's magic number, which changes
# with Python's X.Y): our client sends a function Python has no source of as its compiled code, marshalled,
# to a server whose bytecode is its own only (see hrpyc._caller.job and hrpyc._server.job_code).
BYTECODE_CAPABILITY = ("bytecode", MAGIC_NUMBER.hex())
MAX_RELEASE = 4096  # pairs in one message, as a server accepts them
_RELEASE_NUMBERS = struct.Struct("<QQQ")
_NUMBER_LIMIT = 1 << 64


def releasable(id_pack: Any, count: Any) -> bool:
    """Whether a proxy's release fits in HANDLE_RELEASE (any real one does: the server made the id_pack)."""
    return (
        type(id_pack) is tuple
        and len(id_pack) == 3
        and type(id_pack[0]) is str
        and "\0" not in id_pack[0]
        and all(type(number) is int and 0 <= number < _NUMBER_LIMIT for number in (id_pack[1], id_pack[2], count))
    )


def pack_releases(pairs: List[Tuple[Any, int]]) -> Tuple[str, bytes]:
    """HANDLE_RELEASE's arguments for releasable (id_pack, count) pairs."""
    return (
        "\0".join(id_pack[0] for id_pack, _ in pairs),
        b"".join(_RELEASE_NUMBERS.pack(id_pack[1], id_pack[2], count) for id_pack, count in pairs),
    )


def unpack_releases(names: Any, numbers: Any) -> List[Tuple[Tuple[str, int, int], int]]:
    """The (id_pack, count) pairs in HANDLE_RELEASE's arguments; none for anything malformed. Only a
    string and a bytes are read: a client's proxy posing as one would call back into it when read."""
    size = _RELEASE_NUMBERS.size
    if type(names) is not str or type(numbers) is not bytes or len(numbers) % size or len(numbers) > MAX_RELEASE * size:
        return []
    split = names.split("\0", MAX_RELEASE)
    if not numbers or len(split) != len(numbers) // size:
        return []
    return [
        ((name, first, second), count)
        for name, (first, second, count) in zip(split, _RELEASE_NUMBERS.iter_unpack(numbers))
        if count
    ]


MAX_EXPANDED = 256 << 20  # what one compressed frame may expand to (a 100 MB upload through proxies fits)
INFLATE_PIECE = 16 << 20


def _inflate(data: bytes) -> bytes:
    """zlib.decompress, in pieces, refusing to grow past MAX_EXPANDED (its peak memory stays near it). The
    pieces are joined once, at the end: a buffer grown piece by piece is copied as it grows on Windows,
    whose heap does not grow a large block in place as glibc's does (a bomb then peaked at 594 MB)."""
    inflate, size = zlib.decompressobj(), 0
    pieces: List[bytes] = []
    while data:
        piece = inflate.decompress(data, INFLATE_PIECE)
        size += len(piece)
        if size > MAX_EXPANDED:
            raise ValueError("a compressed frame expanding beyond {} MB".format(MAX_EXPANDED >> 20))
        pieces.append(piece)
        data = inflate.unconsumed_tail
    pieces.append(inflate.flush())
    return b"".join(pieces)


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
        # rpyc's Channel.recv (the same 4.1.0 to 6.0.2), with a bound on what a compressed frame may
        # expand to: zlib.decompress would turn a 2 MB frame into gigabytes.
        header = self.stream.read(self.FRAME_HEADER.size)
        length, compressed = self.FRAME_HEADER.unpack(header)
        data = self.stream.read(length + len(self.FLUSHER))[: -len(self.FLUSHER)]
        if compressed:
            data = _inflate(data)
        if self._incoming is None:
            foreign = _is_old(data) != GENERATION.old_envelope
            self._incoming = GENERATION.to_ours if foreign else bytes
            self._outgoing = GENERATION.to_theirs if foreign else None
        return self._incoming(data)

    def send(self, data: bytes) -> None:  # type: ignore[override]
        super().send(self._outgoing(data) if self._outgoing is not None else data)

    def frame_within(self, seconds: float) -> bool:
        """Whether a whole frame arrives within `seconds`, read ahead without ever waiting on part of
        one: a peer that stops mid-frame holds its own connection's thread, never the caller."""
        stream = self.stream
        if not isinstance(stream, FastSocketStream):
            return False
        return stream.frame_within(seconds, self.FRAME_HEADER, len(self.FLUSHER))


READ_PIECE = 8 << 20
READ_AHEAD = 64 << 10  # what one recv asks for: a whole small frame, header and all, comes in one call


def _nothing() -> int:
    return 0


# A thread asleep in poll() takes tens of microseconds to wake (more in a virtual machine), and a proxy
# call is two such waits, one on each side: a short wait first polls without sleeping, if the answer
# usually comes that soon on this socket. One thread per process spins at a time; the others sleep.
SPIN = 0.0002
_spinner = threading.Lock()
_yield = getattr(os, "sched_yield", _nothing)


def _new_spinner() -> None:
    global _spinner
    _spinner = threading.Lock()  # a fork while a thread spun would leave the child's lock taken


_at_fork = getattr(os, "register_at_fork", None)  # not on Windows
if _at_fork is not None:
    _at_fork(after_in_child=_new_spinner)
_POLL_IN = getattr(select, "POLLIN", 0) | getattr(select, "POLLPRI", 0)


class FastSocketStream(SocketStream):
    """rpyc's socket stream, with fewer copies and system calls.

    rpyc sends a frame 8 kB at a time, re-slicing the rest after each send, and joins reads of 8 kB:
    sendall and recv_into move a 100 MB frame in one pass. rpyc reads a small frame with two recvs (its
    header, then the rest) after a poll it sets up anew each time: here one recv reads ahead what has
    arrived, and the poll object is made once. And a wait for the peer's next frame polls briefly
    before it sleeps (see SPIN). A call is a few frames and two waits, so this is most of what a proxy
    call costs above the network.
    """

    __slots__ = ("_ahead", "_at", "_held", "_holding", "_poller", "_spins")
    sock: socket.socket  # rpyc's close() puts its ClosedFile here, whose every method raises EOFError

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self._ahead = b""  # read from the socket, not yet asked for; from index _at
        self._at = 0
        self._poller: Any = None
        self._spins = True  # whether a wait here first polls without sleeping (see SPIN)
        self._held = b""
        self._holding = False

    def hold_next_write(self) -> None:
        """Keep the next frame written and send it with the one after (one packet, one wake-up)."""
        self._holding = True

    def poll(self, timeout: Any) -> bool:
        if self._at < len(self._ahead) or getattr(self.sock, "pending", _nothing)():  # TLS buffers too
            return True
        return self._readable(timeout.timeleft() if isinstance(timeout, Timeout) else timeout)

    def read(self, count: int) -> bytes:  # pyright: ignore[reportIncompatibleMethodOverride]  # rpyc's is untyped
        """`count` bytes. What is left of a frame header's 4 GB promise is read in pieces of at most
        READ_PIECE: memory must only grow as data arrives."""
        ahead, at = self._ahead, self._at
        if len(ahead) - at >= count:
            self._at = at + count
            return ahead[at : at + count]
        head = ahead[at:]
        self._ahead, self._at = b"", 0
        if count - len(head) > READ_AHEAD:
            return head + self._receive_in_pieces(count - len(head))
        pieces = [head]
        got = len(head)
        while got < count:
            data = self._receive(READ_AHEAD)
            pieces.append(data)
            got += len(data)
        data = b"".join(pieces)
        self._ahead = data[count:]
        return data[:count]

    def frame_within(self, seconds: float, header: Any, tail: int) -> bool:
        """See BridgingChannel.frame_within: `header` is the frame header's struct (its first field the
        body's length), `tail` the bytes after the body. Plain sockets only (TLS buffers its own)."""
        if hasattr(self.sock, "pending"):
            return False
        until = time.perf_counter() + seconds  # a fraction of a millisecond: see main_thread_dispatch.FOLLOW_WAIT
        while True:
            have = len(self._ahead) - self._at
            if have >= header.size and have >= header.size + header.unpack_from(self._ahead, self._at)[0] + tail:
                return True
            left = until - time.perf_counter()
            if left <= 0 or not self._readable(left):
                return False
            try:
                data = self.sock.recv(READ_AHEAD)  # readable: returns what has come, without waiting
            except OSError:
                return False
            if not data:
                return False  # closed: its own thread finds out
            self._ahead, self._at = self._ahead[self._at :] + data, 0

    def _readable(self, seconds: Optional[float]) -> bool:
        """Whether the socket has something to read within `seconds` (None: as long as it takes); polled
        without sleeping for up to SPIN first, unless this socket's last wait slept for SPIN or more."""
        if _POLL_IN == 0:  # no poll() on this platform (Windows): rpyc's select()
            return bool(super().poll(seconds))
        poller = self._poller
        if poller is None:
            poller = self._poller = select.poll()  # pyright: ignore[reportAttributeAccessIssue]  # _POLL_IN: not Windows
            poller.register(self.fileno(), _POLL_IN)
        spin = SPIN if seconds is None else min(SPIN, seconds)
        if self._spins and spin > 0 and _spinner.acquire(False):
            spun_at = time.perf_counter()
            try:
                until = spun_at + spin
                while True:
                    if poller.poll(0):
                        return True
                    if time.perf_counter() >= until:
                        break
                    _yield()  # a peer on this same CPU runs now, rather than when the spin ends
            finally:
                _spinner.release()
            if seconds is not None:  # a busy thread may have held the GIL past the spin's end
                seconds = spun_at + seconds - time.perf_counter()
        started = time.perf_counter()
        ready = bool(poller.poll(None if seconds is None else max(0.0, seconds) * 1000))
        self._spins = ready and time.perf_counter() - started < SPIN  # a slow peer is slept on at once
        return ready

    def _receive_in_pieces(self, count: int) -> bytes:
        """`count` bytes received straight into pieces of at most READ_PIECE, past the read-ahead buffer:
        a frame header may promise 4 GB, and memory must only grow as they arrive."""
        pieces = []
        while count > 0:
            piece = bytearray(min(count, READ_PIECE))
            view, got = memoryview(piece), 0
            while got < len(piece):
                got += self._receive_into(view[got:])
            pieces.append(piece)
            count -= len(piece)
        return bytes(pieces[0]) if len(pieces) == 1 else b"".join(pieces)

    def _receive(self, most: int) -> bytes:
        return self._received(self.sock.recv, most)  # type: ignore[no-any-return]

    def _receive_into(self, view: memoryview) -> int:
        return int(self._received(self.sock.recv_into, view, len(view)))

    def _received(self, receive: Callable[..., Any], *args: Any) -> Any:
        """What `receive(*args)` got; EOFError once the peer has gone (nothing received) or failed."""
        try:
            got = receive(*args)
        except OSError as exc:
            self.close()
            raise EOFError(exc) from None
        if not got:
            self.close()
            raise EOFError("connection closed by peer")
        return got

    def write(self, data: bytes) -> None:
        if self._holding:
            self._held, self._holding = self._held + data, False
            return
        if self._held:
            data, self._held = self._held + data, b""
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.close()
            raise EOFError(exc) from None


def raw_socket(conn: rpyc.Connection) -> socket.socket:
    return conn._channel.stream.sock


def peer_address(conn: rpyc.Connection) -> Tuple[str, int]:
    peer = _config(conn)["endpoints"][1]
    return peer[0], peer[1]


def set_compression(conn: rpyc.Connection, enabled: bool) -> None:
    """rpyc zlib-compresses every frame over 3 kB; on loopback that costs far more than it saves."""
    conn._channel.compress = enabled


def sync_timeout(conn: rpyc.Connection) -> Optional[float]:
    """rpyc's bound on each request of `conn` (its sync_request_timeout): seconds, None for none."""
    return _config(conn)["sync_request_timeout"]


def set_sync_timeout(conn: rpyc.Connection, seconds: Optional[float]) -> None:
    _config(conn)["sync_request_timeout"] = seconds


def rpyc_traceback(exc: BaseException) -> Optional[str]:
    """The server's traceback on an error brought over, where rpyc 4.1 - 6.0 (and remote_errors) keep it."""
    text = getattr(exc, "_remote_tb", None)
    return text if isinstance(text, str) else None


def set_rpyc_traceback(exc: BaseException, text: str) -> None:
    """Keep the server's traceback where rpyc keeps it: code that reads it there still can."""
    exc._remote_tb = text  # type: ignore[attr-defined]


def _config(conn: rpyc.Connection) -> Dict[str, Any]:
    """rpyc's settings of `conn` (typed there as the union of its defaults' types)."""
    return conn._config
