"""Server side: deadlines for whole exchanges, kept by one thread for the whole process.

A timeout on each read lets a peer that sends one byte at a time stay for ever (a byte every 1.5 s
outlived a 2 s limit by minutes). A socket given a deadline here is cut when it passes, whatever it is
doing (shut down; on Windows closed too, as only that is documented to end a blocked call: see
_oslayer.sockets.cut), so its reader fails at once and the server forgets it.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from typing import Dict, List, Optional, Set, Tuple

from hrpyc._oslayer import sockets

_lock = threading.Condition()
_heap: List[Tuple[float, int]] = []  # (when, ticket), the earliest first
_watched: Dict[int, socket.socket] = {}
_cut: Set[int] = set()
_tickets = itertools.count(1)
_reaper: Optional[threading.Thread] = None


def watch(sock: socket.socket, seconds: float) -> int:
    """Cut `sock` in `seconds` unless released first; returns the ticket for release()."""
    global _reaper
    ticket = next(_tickets)
    with _lock:
        _watched[ticket] = sock
        heapq.heappush(_heap, (time.monotonic() + seconds, ticket))
        if _reaper is None:
            _reaper = threading.Thread(target=_reap, name="hrpyc-deadlines", daemon=True)
            _reaper.start()
        _lock.notify()
    return ticket


def release(ticket: int) -> bool:
    """Stop watching; True when the deadline had already passed and the socket was cut."""
    with _lock:
        _watched.pop(ticket, None)
        if ticket in _cut:
            _cut.discard(ticket)
            return True
        return False


def _reap() -> None:
    while True:
        with _lock:
            while not _heap or _heap[0][0] > time.monotonic():
                _lock.wait(None if not _heap else _heap[0][0] - time.monotonic())
            _, ticket = heapq.heappop(_heap)
            sock = _watched.pop(ticket, None)
            if sock is None:
                continue  # released in time
            _cut.add(ticket)
        sockets.cut(sock)
