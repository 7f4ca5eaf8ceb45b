"""Server side: the hrpyc server - built from its parts and bound, started, served, stopped - and what it
shows of itself (its address, dispatch, credential, protection, clients). The one server a process runs
through `start_server` is lifecycle's.
"""

from __future__ import annotations

import logging
import threading
from typing import List, Optional, Tuple

from hrpyc._common import config, sessions
from hrpyc._common.address import DEFAULT_HOST, DEFAULT_PORT, format_address, is_loopback
from hrpyc._houdini import houdini
from hrpyc._oslayer import console
from hrpyc._server import events
from hrpyc._server.dispatch import make_dispatcher
from hrpyc._server.gate import Security
from hrpyc._server.job_table import describe as describe_job
from hrpyc._server.main_thread_dispatch import CallerDispatcher
from hrpyc._server.parts import Parts
from hrpyc._server.thread_dispatch import Dispatcher
from hrpyc._wire.client_info import ClientInfo

__all__ = ["Server"]

log = logging.getLogger(__name__)

STOP_GRACE = 2.0  # seconds stop() waits for connection threads to finish their current request


class Server(object):
    """A listening hrpyc server. Build it to bind (errors surface here), then `start()` it.

    It answers `join()` and `is_alive()` like the thread SideFX's `start_server` returned.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        dispatch: Optional[str] = None,
        timeout: Optional[config.Seconds] = None,
        token: Optional[str] = None,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        cafile: Optional[str] = None,
        allow_insecure: Optional[bool] = None,
        allow_other_users: Optional[bool] = None,
        max_clients: Optional[int] = None,
        compress: Optional[bool] = None,
    ) -> None:
        """Each keyword left None reads its HRPYC_* variable (see the README), else its default.

        `dispatch`: where requests run (see hrpyc._server.dispatch). `timeout`: how long a stock client waits
        (ours say so themselves). `token`: a shared secret clients must show, or 'auto' for this user's
        own. `certfile`/`keyfile`: serve over TLS; `cafile`: and require client certificates it signed.
        `allow_insecure`: listen beyond loopback with no credential. `allow_other_users`: let other OS
        users' processes on this machine in too, with the credential asked for (by default only this user's
        may connect from this machine, whatever they show; where the system cannot say who connected, none may).
        `max_clients`: connected at once.
        `compress`: zlib for large frames; None turns it on only for peers beyond loopback."""
        dispatcher = self._dispatcher_for(dispatch)
        request_timeout = config.request_timeout(timeout)
        security = Security(token, certfile, keyfile, cafile, allow_insecure, allow_other_users)
        security.check_exposure(host, port)
        self._lock = threading.Lock()
        self._stopping = False
        self._stopped = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._record: Optional[str] = None
        limit = config.max_clients(max_clients)
        self._parts = Parts(host, port, dispatcher, security, limit, request_timeout, compress)
        self.address: Tuple[str, int] = self._parts.address

    def _dispatcher_for(self, dispatch: Optional[str]) -> Dispatcher:
        return make_dispatcher(config.dispatch_mode(dispatch))

    def __repr__(self) -> str:
        state = "running" if self.is_alive() else ("stopped" if self._stopping else "not started")
        return "<hrpyc.Server {} {}>".format(format_address(*self.address), state)

    @property
    def dispatch(self) -> str:
        """Where requests run: 'main' (Houdini's main thread), 'qt' (the Qt main thread), 'thread'
        (connection threads) or 'caller' (the thread of start_server(use_thread=False))."""
        return self._parts.dispatcher.name

    @property
    def credential(self) -> str:
        """What clients must show: 'token', 'certificate' or 'none'."""
        return self._parts.security.credential

    @property
    def token_source(self) -> str:
        """Where its token came from: 'auto' (this user's own), 'given', or '' (no token)."""
        return self._parts.security.token_source

    @property
    def only_owner(self) -> bool:
        """True when only this OS user's processes may connect from this machine, whatever the credential
        (allow_other_users was not given); see `protection`."""
        return self._parts.security.only_owner

    @property
    def protection(self) -> str:
        """Who on this machine may connect: 'owner' (this OS user's processes only, whatever they show),
        'credential only' (any process with the credential: allow_other_users, or a system that never says
        who connected, such as Wine), or 'refuse local' (none: such a system, and no credential to ask for)."""
        return self._parts.protection

    @property
    def exposed(self) -> bool:
        """True when machines other than this one can reach the server."""
        return not is_loopback(self.address[0])

    def describe(self) -> Tuple[Tuple[str, str], ...]:
        """What this server is, as clients see it: versions, pid, dispatch, and for how long the main
        thread has been busy with a request (ping uses it to tell "alive, but busy")."""
        return self._parts.describe()

    def start(self) -> Server:
        """Serve on daemon threads (one accepts, one per client) and return at once."""
        with self._lock:
            if self._thread is not None or self._stopping:
                return self
            self._parts.dispatcher.open()
            self._thread = threading.Thread(
                target=self._accept_loop, name="hrpyc-accept-{}".format(self.address[1]), daemon=True
            )
            self._thread.start()
        try:
            self._record = sessions.register(
                dict(
                    self._parts.about,
                    host=self.address[0],
                    port=self.address[1],
                    scene=houdini.scene() or "",
                    token_source=self.token_source,
                )
            )
        except BaseException:
            self.stop()  # the record could not be written: no listener may outlive the error
            raise
        log.info("hrpyc: listening on %s", format_address(*self.address))
        self._parts.tell(events.STARTED)
        return self

    def is_alive(self) -> bool:
        return self._thread is not None and not self._stopped.is_set()

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait until the server stops, or `timeout` seconds."""
        if self._thread is not None:
            self._stopped.wait(timeout)

    def serve_forever(self) -> None:
        """Serve in the caller until stopped; Ctrl-C (on Windows Ctrl-Break too) stops cleanly. With
        start_server(use_thread=False) requests run here, on the caller's thread."""
        self.start()
        restore = console.break_interrupts()  # a console's Ctrl-Break too, on Windows, while we serve here
        try:
            # A bounded wait in a loop, because an unbounded one ignores Ctrl-C on Windows.
            while not self._stopped.is_set():
                self._parts.dispatcher.serve(self._stopped, 1.0)
        except KeyboardInterrupt:
            log.info("hrpyc: interrupted")
        finally:
            restore()
            self.stop()

    def stop(self) -> None:
        """Stop accepting, drop every client and free the port; harmless when already stopped."""
        parts = self._parts
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            parts.clients.close()
        parts.jobs.close()
        parts.rpyc.close()  # closes the listener and every client socket
        parts.dispatcher.close()
        me, waiting_for_me = threading.current_thread(), parts.dispatcher.running_here()
        # A request may have called stop(): never wait for our own connection to end, nor for the
        # one that waits for the request running here (main-thread modes).
        parts.clients.wait_until_gone(STOP_GRACE, lambda client: client.thread is me or client.conn is waiting_for_me)
        parts.clients.tell_held_refusals()
        if self._record is not None:
            sessions.unregister(self._record)
        self._stopped.set()
        log.info("hrpyc: stopped %s", format_address(*self.address))
        parts.tell(events.STOPPED)

    def close(self) -> None:
        """stop(), under the name SideFX-era code uses (rpyc's servers close)."""
        self.stop()

    def clients(self) -> List[ClientInfo]:
        """A snapshot of the connected clients, oldest first, each with its jobs."""
        jobs_of = self._parts.jobs.of
        records = self._parts.clients.records()
        return [record.info()._replace(jobs=tuple(map(describe_job, jobs_of(record.conn)))) for record in records]

    def disconnect(self, client_id: int) -> bool:
        """Drop one client; False when no such client is connected."""
        return self._parts.clients.disconnect(client_id)

    def _accept_loop(self) -> None:
        try:
            self._parts.rpyc.start()
        except Exception as exc:
            log.error("hrpyc: the server on %s failed: %s", format_address(*self.address), exc)
            self._parts.tell(events.ERROR, message=str(exc))
        finally:
            self.stop()


class ServedHere(Server):
    """start_server(use_thread=False)'s server: every request runs on the thread of serve_forever()."""

    def _dispatcher_for(self, dispatch: Optional[str]) -> Dispatcher:
        return CallerDispatcher()
