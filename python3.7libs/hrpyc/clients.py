"""Server side: the record a server keeps of each connected client, and the snapshot it hands out."""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple, Optional, Tuple

__all__ = ["ClientInfo"]


class ClientInfo(NamedTuple):
    id: int
    address: Tuple[str, int]
    connected_at: float
    requests: int
    last_request_at: Optional[float]


ClientInfo.__doc__ = """A snapshot of one connected client: `id` is unique per server, `address` the peer's
(host, port), times are `time.time()` values, `last_request_at` is None before the first request."""


class ClientRecord(object):
    """The live, mutable side of a ClientInfo; only its connection counts requests into it."""

    __slots__ = ("_last", "_lock", "_requests", "address", "conn", "connected_at", "id", "thread")

    def __init__(self, client_id: int, address: Tuple[str, int], conn: Any) -> None:
        self.id = client_id
        self.address = address
        self.connected_at = time.time()
        self.conn = conn
        self.thread = threading.current_thread()
        self._requests = 0
        self._last: Optional[float] = None
        self._lock = threading.Lock()

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1
            self._last = time.time()

    def info(self) -> ClientInfo:
        with self._lock:
            return ClientInfo(self.id, self.address, self.connected_at, self._requests, self._last)
