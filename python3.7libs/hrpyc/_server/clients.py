"""Server side: a server's clients - the table of who is connected, held to the client limit, each client
served on its own thread from connect to disconnect, and the sockets refused, told at a bounded rate.

What a client's leaving releases elsewhere (its lanes, jobs, undo groups) and the events' server address
are the server's: given as `left` and `tell`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from hrpyc._common import identity
from hrpyc._common.address import format_address, is_loopback
from hrpyc._common.printable import printable_error
from hrpyc._oslayer import sockets
from hrpyc._server import events
from hrpyc._server.refusals import RefusalLog
from hrpyc._server.requests import Request
from hrpyc._server.rpyc_hooks import ServerConnection
from hrpyc._wire.client_info import ClientRecord, Pairs, to_pairs
from hrpyc._wire.rpyc_versions import peer_address, raw_socket, set_compression

log = logging.getLogger(__name__)

# tell(kind, client=None, message="", count=1): a ServerEvent of this server's, as events.ServerEvent takes them.
Tell = Callable[..., None]


class Clients(object):
    """The clients of one server, a record each under one lock; at most `limit` connected at once."""

    def __init__(
        self,
        limit: int,
        timeout: Optional[float],
        compress: Optional[bool],
        run: Callable[[Request], None],
        left: Callable[[Any], None],
        tell: Tell,
    ) -> None:
        """`timeout`: how long a stock client waits for an answer; `compress`: see hrpyc.Server; `run(request)`:
        dispatch; `left(conn)`: release what a leaving client held elsewhere; `tell`: an event of the server's."""
        self.limit = limit
        self._timeout = timeout
        self._compress = compress
        self._run = run
        self._left = left
        self._tell = tell
        self._lock = threading.Condition()
        self._records: Dict[int, ClientRecord] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._refusals = RefusalLog(self._tell_refused)

    @property
    def closed(self) -> bool:
        """The server stops: no client is let in from now on."""
        return self._closed

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def serve(self, conn: ServerConnection) -> None:
        """Runs on the client's own thread from connect to disconnect."""
        peer = peer_address(conn)
        set_compression(conn, self._compress if self._compress is not None else not is_loopback(peer[0]))
        record = ClientRecord(next(self._ids), peer, conn)
        with self._lock:
            if self._closed:
                return
            # The gate's check is what a client is told; this one holds under a burst of handshakes.
            full = len(self._records) >= self.limit
            if not full:
                self._records[record.id] = record
        if full:
            self.refused(peer, "too many clients")
            return

        announced = False

        def announce() -> None:
            # Once the client has said who it is (our client's handshake comes right after rpyc's
            # opening), or made a first request of its own (a stock client), or left without either.
            nonlocal announced
            announced = True
            info = record.info()
            log.info("hrpyc: client %s connected: %s", format_address(*peer), info.who)
            self._tell(events.CONNECTED, info)

        def on_request(request: Request) -> None:
            record.count_request()
            self._run(request)
            if not announced and not request.opening:
                announce()

        conn.request_hook = on_request  # type: ignore[attr-defined]
        conn.timeout = self._timeout  # type: ignore[attr-defined]
        reason = ""
        try:
            conn.serve_until_closed()  # type: ignore[attr-defined]
        except Exception as exc:  # bad bytes or a broken socket end this client only, never the server
            reason = "connection dropped: " + printable_error(exc, 300)
        finally:
            if not announced:
                announce()
            log.info("hrpyc: client %s disconnected%s", format_address(*peer), reason and ": " + reason)
            self._left(conn)
            with self._lock:
                self._records.pop(record.id, None)
                self._lock.notify_all()
            self._tell(events.DISCONNECTED, record.info(), reason)

    def has_room(self) -> bool:
        with self._lock:
            return len(self._records) < self.limit

    def refused(self, peer: Tuple[str, int], reason: str) -> None:
        """A socket not let in (by the gate, or the limit here), told at a bounded rate (see RefusalLog)."""
        if self._closed:
            return  # sockets still authenticating when we stop are closed by us, not refused
        self._refusals.add(format_address(*peer), reason)

    def _tell_refused(self, message: str, count: int) -> None:
        """A refusal, or a summary of several (see RefusalLog): to the log and as an event."""
        log.warning("hrpyc: refused %s", message)
        self._tell(events.REFUSED, message=message, count=count)

    def tell_held_refusals(self) -> None:
        """Tell the refusals held back for a summary now (the server stops)."""
        self._refusals.flush()

    def records(self, leaving_out: Any = None) -> List[ClientRecord]:
        """The connected clients, oldest first, but the one on connection `leaving_out`."""
        with self._lock:
            return sorted((r for r in self._records.values() if r.conn is not leaving_out), key=lambda r: r.id)

    def pairs(self, asking: Any) -> Tuple[Pairs, ...]:
        """The other clients, for the one on connection `asking` (`hrpyc sessions --clients`)."""
        return tuple(to_pairs(record.info()) for record in self.records(leaving_out=asking))

    def _record_of(self, conn: Any) -> Optional[ClientRecord]:
        with self._lock:
            return next((r for r in self._records.values() if r.conn is conn), None)

    def who(self, conn: Any) -> str:
        """A client as a busy message names it: 'maya (pid 4242, td@ws042)'."""
        record = self._record_of(conn)
        return record.info().who if record is not None else "hrpyc itself" if conn is None else "a client that left"

    def introduce(self, conn: Any, said: Any) -> None:
        """A client's handshake said who it is: keep the first word, bounded (see hrpyc._common.identity)."""
        record = self._record_of(conn)
        if record is not None and record.identity is None:
            record.identity = identity.read(said)

    def disconnect(self, client_id: int) -> bool:
        """Drop one client; False when no such client is connected."""
        with self._lock:
            record = self._records.get(client_id)
        if record is None:
            return False
        sockets.cut(raw_socket(record.conn))  # its serving thread sees EOF and cleans up after itself
        return True

    def wait_until_gone(self, seconds: float, staying: Callable[[ClientRecord], bool]) -> None:
        """Wait up to `seconds` for every client to have left but those `staying(record)` names."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while any(not staying(record) for record in self._records.values()):
                left = deadline - time.monotonic()
                if left <= 0 or not self._lock.wait(left):
                    break
