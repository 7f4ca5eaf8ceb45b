"""Both sides: the record a server keeps of each connected client, the snapshot it hands out, and that
snapshot as plain pairs for a client that asks (`hrpyc sessions --clients`)."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, NamedTuple, Optional, Tuple

from hrpyc._common import identity
from hrpyc._common.identity import STOCK

__all__ = ["ClientInfo"]


class ClientInfo(NamedTuple):
    id: int
    address: Tuple[str, int]
    connected_at: float
    requests: int
    last_request_at: Optional[float]
    program: str = STOCK
    pid: Optional[int] = None
    user: str = ""
    host: str = ""
    objects: int = 0
    jobs: Tuple[str, ...] = ()

    @property
    def who(self) -> str:
        """'maya (pid 4242, td@ws042)', or 'stock rpyc client' for a client that did not say."""
        if self.program == STOCK and self.pid is None:
            return STOCK
        return "{} (pid {}, {}@{})".format(self.program or "?", self.pid or "?", self.user or "?", self.host or "?")


ClientInfo.__doc__ = """A snapshot of one connected client: `id` is unique per server, `address` the peer's
(host, port), times are `time.time()` values, `last_request_at` is None before the first request.
`program`, `pid`, `user` and `host` are what an hrpyc client said of itself at connect (bounded, printable;
a peer can claim anything); a stock rpyc client says nothing: `program` is 'stock rpyc client', `pid` None.
`who` puts them in one phrase. `objects`: how many of the server's objects the client holds proxies to
(what a script that leaks proxies makes grow). `jobs`: its jobs (hrpyc.submit, hrpyc.run) the server still
holds, each as "job 3 'cache' (running 12 s)"."""


class ClientRecord(object):
    """The live, mutable side of a ClientInfo; only its connection counts requests into it.

    `identity` is what the client said in its handshake (see hrpyc._common.identity), None until it does."""

    __slots__ = ("_last", "_lock", "_requests", "address", "conn", "connected_at", "id", "identity", "thread")

    def __init__(self, client_id: int, address: Tuple[str, int], conn: Any) -> None:
        self.id = client_id
        self.address = address
        self.connected_at = time.time()
        self.conn = conn
        self.thread = threading.current_thread()
        self.identity: Optional[Dict[str, str]] = None
        self._requests = 0
        self._last: Optional[float] = None
        self._lock = threading.Lock()

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1
            self._last = time.time()

    def info(self) -> ClientInfo:
        with self._lock:
            info = _info((self.id, self.address, self.connected_at, self._requests, self._last), self.identity)
        return info._replace(objects=self.conn.objects_held())


Pairs = Tuple[Tuple[str, str], ...]


def to_pairs(info: ClientInfo) -> Pairs:
    """A ClientInfo as strings, which rpyc sends by value (a stock client's without identity)."""
    said = () if info.who == STOCK else tuple((key, str(getattr(info, key) or "")) for key in identity.LIMITS)
    basic = (info.id, info.address[0], info.address[1], repr(info.connected_at), info.requests, info.objects)
    return tuple(zip(("id", "address", "port", "connected_at", "requests", "objects"), map(str, basic))) + said


def from_pairs(pairs: Any) -> ClientInfo:
    """to_pairs' ClientInfo back, from a server we asked: bounded and printable, as any peer's words."""
    pairs = pairs[:64] if type(pairs) is tuple else ()
    said = {p[0]: p[1] for p in pairs if type(p) is tuple and len(p) == 2 and type(p[0]) is type(p[1]) is str}
    address = identity.read((("host", said.get("address", "?")),)).get("host", "?")
    number = {key: _number(said.get(key), float if key == "connected_at" else int) for key in _NUMBERS}
    basic = (number["id"], (address, number["port"]), number["connected_at"], number["requests"], None)
    told = tuple((key, said[key]) for key in identity.LIMITS if key in said)
    return _info(basic, identity.read(told) if told else None)._replace(objects=number["objects"])


def _info(basic: Tuple[Any, ...], said: Optional[Dict[str, str]]) -> ClientInfo:
    info = ClientInfo(*basic)
    if said is None:
        return info
    pid = said.get("pid")
    return info._replace(
        program=said.get("program", ""),
        pid=int(pid) if pid else None,
        user=said.get("user", ""),
        host=said.get("host", ""),
    )


_NUMBERS = ("id", "port", "connected_at", "requests", "objects")


_LARGEST = {int: 2**31, float: 2.0**34}  # ids, ports and counts; times up to the year 2514


def _number(text: Any, kind: Any) -> Any:
    """A number a peer wrote, or 0: finite, not negative, not absurdly large (time.localtime takes it)."""
    try:
        value = kind(str(text)[:40])
    except ValueError:
        return kind()
    return value if 0 <= value <= _LARGEST[kind] else kind()
