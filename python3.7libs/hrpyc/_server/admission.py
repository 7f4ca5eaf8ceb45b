"""Server side: the gate's waiting room: the sockets still authenticating, counted by source, and which
of them is turned away when there are too many. Each holds a descriptor and a thread until it is through,
so a flood of sockets that never speak must keep nobody out."""

from __future__ import annotations

import random
import select
import socket
import threading
from typing import Dict, Optional

from hrpyc._auth import proof
from hrpyc._oslayer import sockets


class Admission(object):
    """At most `pending_limit` sockets may be authenticating at once, and at most PER_SOURCE from one
    source (an address; on loopback, once it has spoken, the user who connected): one attacker cannot
    hold everyone's places. A socket turned away is told the server is busy (proof.busy_reply, or a TLS
    alert with `tls`)."""

    PER_SOURCE = 16  # a farm node's clients connecting at once, a client's bulk lanes: each a few ms
    SHED_FROM = 0.5  # shedding starts with the queue half full, for this share of newcomers,
    SHED_RATE = 0.3  # rising to all of them when it is full (sshd's MaxStartups, start:rate:full)

    def __init__(self, pending_limit: int, tls: bool) -> None:
        self._tls = tls
        self._lock = threading.Lock()
        self._pending: Dict[socket.socket, _Waiting] = {}  # the sockets authenticating, oldest first
        self._per_source: Dict[str, int] = {}
        self._pending_limit = pending_limit
        self._shed_from = int(pending_limit * self.SHED_FROM)

    def enter(self, sock: socket.socket, address: str) -> str:
        """Count a socket in ("") or turn it away (why). At most PER_SOURCE from one address wait for
        their first byte, and past half of `pending_limit` newcomers are shed, as sshd's MaxStartups
        sheds them: by a chance that rises to 1 at the limit. What goes, if there is one, is the silent
        socket that has waited longest (of the same address, at its limit) rather than the newcomer: our
        clients and rpyc's speak at once, a flood's sockets never, so a flood of silent sockets, from one
        address or many, keeps nobody out. Only when every waiting socket has spoken (drips, from many
        sources) is the newcomer refused. Either is told the server is busy (proof.busy_reply)."""
        with self._lock:
            others = len(self._pending)
            crowded = self._per_source.get(address, 0) >= self.PER_SOURCE
            if crowded or self._shedding(others):
                silent = next(
                    (
                        s
                        for s, w in self._pending.items()
                        if not w.heard and (not crowded or w.source == address) and not _has_spoken(s)
                    ),
                    None,
                )
                if silent is None:
                    self._turn_away(sock, others)
                    return BUSY_SOURCE.format("this address") if crowded else BUSY_GATE
                self._forget(silent)
                self._turn_away(silent, others)  # its own thread closes it, and reports SHED
            self._pending[sock] = _Waiting(address)
            self._count(address, 1)
        return ""

    def heard(self, sock: socket.socket) -> Optional[bool]:
        """Note that `sock` has spoken (it is shed no more): whether it is the only one from its source,
        or None when it was shed just before its byte came (it has been told the server is busy)."""
        with self._lock:
            waiting = self._pending.get(sock)
            if waiting is None:
                return None
            waiting.heard = True
            return self._per_source[waiting.source] == 1

    def count_as(self, sock: socket.socket, user: str) -> str:
        """Count `sock`, which has spoken, as `user`'s (who the system says connected: 'uid 1000', a
        Windows SID) rather than its address's: "", or why it was turned away (PER_SOURCE of that user's
        are authenticating already)."""
        with self._lock:
            if self._per_source.get(user, 0) >= self.PER_SOURCE:
                self._turn_away(sock, len(self._pending) - 1)
                return BUSY_SOURCE.format(user)
            waiting = self._pending[sock]  # it has spoken: never shed since, and only its thread leaves
            self._count(waiting.source, -1)
            waiting.source = user
            self._count(user, 1)
        return ""

    def leave(self, sock: socket.socket) -> bool:
        """Count a socket out; False when it had been shed meanwhile."""
        with self._lock:
            return self._forget(sock)

    def _shedding(self, others: int) -> bool:
        if others < self._shed_from:
            return False
        if others >= self._pending_limit:
            return True
        rising = (others - self._shed_from) / max(1, self._pending_limit - self._shed_from)
        return random.random() < self.SHED_RATE + (1 - self.SHED_RATE) * rising

    def _turn_away(self, sock: socket.socket, others: int) -> None:
        """Tell `sock` the server is busy and shut it. It has been answered nothing yet, so its send buffer
        is empty and these few bytes never wait on the peer; what it sent is read first, so that the
        hang-up is a clean one (a reset can discard the answer on the way)."""
        try:
            sock.settimeout(0)
            sock.send(proof.TLS_BUSY if self._tls else proof.busy_reply(others))
            sock.recv(4096)
        except OSError:
            pass
        sockets.cut(sock)

    def _forget(self, sock: socket.socket) -> bool:
        waiting = self._pending.pop(sock, None)
        if waiting is None:
            return False
        self._count(waiting.source, -1)
        return True

    def _count(self, source: str, change: int) -> None:
        left = self._per_source.get(source, 0) + change
        if left:
            self._per_source[source] = left
        else:
            del self._per_source[source]


def _has_spoken(sock: socket.socket) -> bool:
    """Whether `sock`'s first byte (or its hang-up) has come, though its thread may not have read it yet: on
    a busy machine a client's thread can wait to run while newcomers arrive, and it must not be taken for
    silent then."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed meanwhile: nothing to shed there
        return True


class _Waiting(object):
    """A socket still authenticating: where from, and whether it has said anything yet."""

    __slots__ = ("heard", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.heard = False


# Why a socket was turned away at the gate (each was told the server is busy).
BUSY_GATE = "busy: too many connections still authenticating (a flood?)"
BUSY_SOURCE = "busy: " + str(Admission.PER_SOURCE) + " connections from {} still authenticating (a flood?)"
SHED = "busy: shed, still silent, for a newcomer (a flood?)"
