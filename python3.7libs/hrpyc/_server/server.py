"""Server side: the hrpyc server: binding, serving, stopping, its table of clients, and the one server a
process runs through the module API (`start_server`, `stop_server`, `running_server`).
"""

from __future__ import annotations

import itertools
import logging
import os
import platform
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hrpyc._auth.auth import Security
from hrpyc._common import config, discovery, identity, sessions
from hrpyc._common.address import DEFAULT_HOST, DEFAULT_PORT, format_address, is_loopback, same_address
from hrpyc._common.printable import printable_error
from hrpyc._common.version import __version__
from hrpyc._houdini import hou_module as houdini
from hrpyc._oslayer import console, owner, sockets
from hrpyc._server import events
from hrpyc._server.dispatch import CallerDispatcher, Dispatcher, make_dispatcher
from hrpyc._server.job_table import Jobs
from hrpyc._server.job_table import describe as describe_job
from hrpyc._server.refusals import RefusalLog
from hrpyc._server.rpyc_hooks import ListeningServer, Request, ServerConnection
from hrpyc._server.service import service_for
from hrpyc._server.undo import UndoGroups
from hrpyc._wire import plain
from hrpyc._wire.client_info import ClientInfo, ClientRecord, Pairs, to_pairs
from hrpyc._wire.lane import Lanes
from hrpyc._wire.rpyc_versions import RELEASE_CAPABILITY, RPYC_VERSION_STRING, peer_address, raw_socket, set_compression
from hrpyc.errors import BindError, HrpycError, PortInUseError, ServerAlreadyRunningError

__all__ = ["Server", "restart_server", "running_server", "start_server", "stop_server"]

log = logging.getLogger(__name__)
# rpyc narrates every accept and goodbye at INFO; our events say the same once, in our words.
_rpyc_log = logging.getLogger("hrpyc.rpyc")
_rpyc_log.setLevel(logging.WARNING)

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
        self._dispatcher = self._dispatcher_for(dispatch)
        self._timeout = config.request_timeout(timeout)
        self._security = Security(token, certfile, keyfile, cafile, allow_insecure, allow_other_users)
        self._security.check_exposure(host, port)
        self._max_clients = config.max_clients(max_clients)
        self._compress = compress
        self._lock = threading.Condition()
        self._clients: Dict[int, ClientRecord] = {}
        self._ids = itertools.count(1)
        self._stopping = False
        self._stopped = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._about: Tuple[Tuple[str, str], ...] = (
            ("hrpyc", __version__),
            ("rpyc", RPYC_VERSION_STRING),
            ("python", platform.python_version()),
            ("houdini", houdini.version() or ""),
            ("pid", str(os.getpid())),
            ("dispatch", self._dispatcher.name),
            ("auth", self._security.credential),
            ("users", "owner" if self._security.only_owner else "any"),
            ("tls", "yes" if self._security.tls else "no"),
            RELEASE_CAPABILITY,
            plain.CAPABILITY,
        )
        if houdini.is_demo():  # hrpyc serve --demo: clients, ping and session records say it is not Houdini
            self._about += (("demo", "yes"),)
        self._record: Optional[str] = None
        self._refusals = RefusalLog(self._tell_refused)
        self._lanes = Lanes(self._security.hears_preambles)
        self._jobs = Jobs(self._dispatcher.start, self._dispatcher.runs_jobs_here, self._who)
        self._undo = UndoGroups(self._dispatcher.start)
        self._dispatcher.who = self._who
        sessions.folder()  # what can fail fails before the port is taken: a listener nobody could stop
        try:
            self._rpyc = ListeningServer(
                service_for(self.describe, self._lanes, self._introduce, self._client_pairs, self._jobs, self._undo),
                host,
                port,
                authenticator=self._security.gate(
                    self._has_room, self._refused, self._lanes.find, max(64, 4 * self._max_clients)
                ),
                logger=_rpyc_log,
                serve_connection=self._serve,
                serve_raw=self._lanes.serve,
                registrar=discovery.registrar(),
            )
            self._rpyc.listen()
        except OSError as exc:
            why = sockets.bind_error(exc.errno)
            if why == sockets.RESERVED:
                raise PortInUseError.reserved(host, port, exc.errno or 0) from None
            if why == sockets.IN_USE:
                raise PortInUseError(host, port, discovery.port_holder(port)) from None
            raise BindError(host, port, exc.strerror or str(exc)) from None
        except (UnicodeError, ValueError) as exc:  # a name the resolver cannot encode (rpyc >= 5 resolves it here)
            raise BindError(host, port, "not a host name: {}".format(exc)) from None
        self.address: Tuple[str, int] = (self._rpyc.host, self._rpyc.port)
        self._protection = "credential only" if not self._security.only_owner else self._owner_check()

    def _dispatcher_for(self, dispatch: Optional[str]) -> Dispatcher:
        return make_dispatcher(config.dispatch_mode(dispatch))

    def __repr__(self) -> str:
        state = "running" if self.is_alive() else ("stopped" if self._stopping else "not started")
        return "<hrpyc.Server {} {}>".format(format_address(*self.address), state)

    @property
    def dispatch(self) -> str:
        """Where requests run: 'main' (Houdini's main thread), 'qt' (the Qt main thread), 'thread'
        (connection threads) or 'caller' (the thread of start_server(use_thread=False))."""
        return self._dispatcher.name

    @property
    def credential(self) -> str:
        """What clients must show: 'token', 'certificate' or 'none'."""
        return self._security.credential

    @property
    def token_source(self) -> str:
        """Where its token came from: 'auto' (this user's own), 'given', or '' (no token)."""
        return self._security.token_source

    @property
    def only_owner(self) -> bool:
        """True when only this OS user's processes may connect from this machine, whatever the credential
        (allow_other_users was not given); see `protection`."""
        return self._security.only_owner

    @property
    def protection(self) -> str:
        """Who on this machine may connect: 'owner' (this OS user's processes only, whatever they show),
        'credential only' (any process with the credential: allow_other_users, or a system that never says
        who connected, such as Wine), or 'refuse local' (none: such a system, and no credential to ask for)."""
        return self._protection

    def _owner_check(self) -> str:
        """What the owner check can do here, asked of our own listener once, and said if it falls short."""
        found = owner.listener_owner(self._rpyc.listener)
        if found.state == owner.OURS:
            return "owner"
        if found.blind and self.credential != "none":
            log.info(
                "hrpyc: this system cannot tell which user connects (%s): the %s is what keeps other users out",
                found.detail,
                self.credential,
            )
            return "credential only"
        log.warning(
            "hrpyc: this system cannot tell which user connects (%s), so every client on this machine will be "
            "refused; allow_other_users (HRPYC_ALLOW_OTHER_USERS=1) lets them in with the credential asked for",
            found.detail,
        )
        return "refuse local"

    @property
    def exposed(self) -> bool:
        """True when machines other than this one can reach the server."""
        return not is_loopback(self.address[0])

    def describe(self) -> Tuple[Tuple[str, str], ...]:
        """What this server is, as clients see it: versions, pid, dispatch, and for how long the main
        thread has been busy with a request (ping uses it to tell "alive, but busy")."""
        return self._about + (("busy_for", "{:.1f}".format(self._dispatcher.busy_for())),)

    def start(self) -> Server:
        """Serve on daemon threads (one accepts, one per client) and return at once."""
        with self._lock:
            if self._thread is not None or self._stopping:
                return self
            self._dispatcher.open()
            self._thread = threading.Thread(
                target=self._accept_loop, name="hrpyc-accept-{}".format(self.address[1]), daemon=True
            )
            self._thread.start()
        try:
            self._record = sessions.register(
                dict(
                    self._about,
                    host=self.address[0],
                    port=self.address[1],
                    scene=houdini.scene() or "",
                    token_source=self._security.token_source,
                )
            )
        except BaseException:
            self.stop()  # the record could not be written: no listener may outlive the error
            raise
        log.info("hrpyc: listening on %s", format_address(*self.address))
        events.emit(events.ServerEvent(events.STARTED, self.address))
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
                self._dispatcher.serve(self._stopped, 1.0)
        except KeyboardInterrupt:
            log.info("hrpyc: interrupted")
        finally:
            restore()
            self.stop()

    def stop(self) -> None:
        """Stop accepting, drop every client and free the port; harmless when already stopped."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        self._jobs.close()
        self._rpyc.close()  # closes the listener and every client socket
        self._dispatcher.close()
        me, waiting_for_me = threading.current_thread(), self._dispatcher.running_here()
        deadline = time.monotonic() + STOP_GRACE
        with self._lock:
            # A request may have called stop(): never wait for our own connection to end, nor for the
            # one that waits for the request running here (main-thread modes).
            while any(c.thread is not me and c.conn is not waiting_for_me for c in self._clients.values()):
                left = deadline - time.monotonic()
                if left <= 0 or not self._lock.wait(left):
                    break
        self._refusals.flush()
        if self._record is not None:
            sessions.unregister(self._record)
        self._stopped.set()
        log.info("hrpyc: stopped %s", format_address(*self.address))
        events.emit(events.ServerEvent(events.STOPPED, self.address))

    def close(self) -> None:
        """stop(), under the name SideFX-era code uses (rpyc's servers close)."""
        self.stop()

    def clients(self) -> List[ClientInfo]:
        """A snapshot of the connected clients, oldest first, each with its jobs."""
        with self._lock:
            records = sorted(self._clients.values(), key=lambda c: c.id)
        return [record.info()._replace(jobs=tuple(map(describe_job, self._jobs.of(record.conn)))) for record in records]

    def disconnect(self, client_id: int) -> bool:
        """Drop one client; False when no such client is connected."""
        with self._lock:
            record = self._clients.get(client_id)
        if record is None:
            return False
        sockets.cut(raw_socket(record.conn))  # its serving thread sees EOF and cleans up after itself
        return True

    def _record_of(self, conn: Any) -> Optional[ClientRecord]:
        with self._lock:
            return next((r for r in self._clients.values() if r.conn is conn), None)

    def _who(self, conn: Any) -> str:
        """A client as a busy message names it: 'maya (pid 4242, td@ws042)'."""
        record = self._record_of(conn)
        return record.info().who if record is not None else "hrpyc itself" if conn is None else "a client that left"

    def _introduce(self, conn: Any, said: Any) -> None:
        """A client's handshake said who it is: keep the first word, bounded (see hrpyc._common.identity)."""
        record = self._record_of(conn)
        if record is not None and record.identity is None:
            record.identity = identity.read(said)

    def _client_pairs(self, asking: Any) -> Tuple[Pairs, ...]:
        with self._lock:
            records = sorted((r for r in self._clients.values() if r.conn is not asking), key=lambda r: r.id)
        return tuple(to_pairs(record.info()) for record in records)

    def _has_room(self) -> bool:
        with self._lock:
            return len(self._clients) < self._max_clients

    def _refused(self, peer: Tuple[str, int], reason: str) -> None:
        if self._stopping:
            return  # sockets still authenticating when we stop are closed by us, not refused
        self._refusals.add(format_address(*peer), reason)

    def _tell_refused(self, message: str, count: int) -> None:
        """A refusal, or a summary of several (see RefusalLog): to the log and as an event."""
        log.warning("hrpyc: refused %s", message)
        events.emit(events.ServerEvent(events.REFUSED, self.address, message=message, count=count))

    def _accept_loop(self) -> None:
        try:
            self._rpyc.start()
        except Exception as exc:
            log.error("hrpyc: the server on %s failed: %s", format_address(*self.address), exc)
            events.emit(events.ServerEvent(events.ERROR, self.address, message=str(exc)))
        finally:
            self.stop()

    def _serve(self, conn: ServerConnection) -> None:
        """Runs on the client's own thread from connect to disconnect."""
        peer = peer_address(conn)
        compress = self._compress if self._compress is not None else not is_loopback(peer[0])
        set_compression(conn, compress)
        record = ClientRecord(next(self._ids), peer, conn)
        with self._lock:
            if self._stopping:
                return
            # The gate's check is what a client is told; this one holds under a burst of handshakes.
            full = len(self._clients) >= self._max_clients
            if not full:
                self._clients[record.id] = record
        if full:
            self._refused(peer, "too many clients")
            return

        announced = False

        def announce() -> None:
            # Once the client has said who it is (our client's handshake comes right after rpyc's
            # opening), or made a first request of its own (a stock client), or left without either.
            nonlocal announced
            announced = True
            info = record.info()
            log.info("hrpyc: client %s connected: %s", format_address(*peer), info.who)
            events.emit(events.ServerEvent(events.CONNECTED, self.address, info))

        def on_request(request: Request) -> None:
            record.count_request()
            self._dispatcher.run(request)
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
            self._lanes.close(conn)
            if not self._stopping:  # a stop lets running jobs end, as it lets requests end
                self._jobs.client_left(conn)
            self._undo.client_left(conn)
            with self._lock:
                self._clients.pop(record.id, None)
                self._lock.notify_all()
            events.emit(events.ServerEvent(events.DISCONNECTED, self.address, record.info(), reason))


# The one server a process runs through the module API, as SideFX's hrpyc offers.
_running: Optional[Server] = None
_running_lock = threading.Lock()


def start_server(
    port: int = DEFAULT_PORT,
    use_thread: bool = True,
    quiet: bool = True,
    *,
    host: str = DEFAULT_HOST,
    **options: Any,
) -> Server:
    """Start this process's hrpyc server, or return the one already running on the same address.

    SideFX's signature, plus `host` (loopback unless you ask) and the keywords of `hrpyc.Server`
    (dispatch, timeout, token, certfile, keyfile, cafile, allow_insecure, allow_other_users, max_clients,
    compress).
    `use_thread=False` serves in the calling thread until the server stops, and - unless `dispatch`
    or HRPYC_DISPATCH says otherwise - runs every request there, one at a time (dispatch 'caller').
    """
    global _running
    if not quiet:
        _log_to_stderr()
    here = not use_thread and options.get("dispatch") is None and config.dispatch_mode() == "auto"
    with _running_lock:
        server = running_server()
        if server is not None:
            if not same_address(server.address, host, port):
                raise ServerAlreadyRunningError(format_address(*server.address), format_address(host, port))
            if here and server.dispatch != CallerDispatcher.name:
                log.warning(
                    "hrpyc: %s was already serving (dispatch %s, autostart?); serving it here, its requests "
                    "keep running where they did",
                    format_address(*server.address),
                    server.dispatch,
                )
        else:
            server = _running = (_ServedHere if here else Server)(host, port, **options).start()
    if not use_thread:
        server.serve_forever()
    return server


def start_first_free(ports: Sequence[int], named: Any, *, host: str = DEFAULT_HOST, **options: Any) -> Server:
    """start_server() on the first free port of `ports`: a range (HRPYC_PORT, `hrpyc serve --port A-B`), or
    one port, whose PortInUseError is raised. `named`: where the range came from (a Setting, or
    'HRPYC_PORT=A-B'), for the error when every port of it is taken."""
    for port in ports:
        try:
            return start_server(port, host=host, **options)
        except PortInUseError:
            if len(ports) == 1:
                raise
    raise HrpycError("every port of {} on {} is in use; widen the range", named, host)


class _ServedHere(Server):
    """start_server(use_thread=False)'s server: every request runs on the thread of serve_forever()."""

    def _dispatcher_for(self, dispatch: Optional[str]) -> Dispatcher:
        return CallerDispatcher()


def restart_server(port: int = DEFAULT_PORT, *, host: str = DEFAULT_HOST, **options: Any) -> Server:
    """This process's server, replaced by one on host:port with `options` (see start_server); a
    refusal (bad option, no credential beyond loopback, port taken) raises and leaves the running
    server and its clients untouched.

    The new server binds before the old one stops. On the same port that cannot be (one port, one
    listener): every check the new server makes before it binds has passed when only the bind fails,
    so the old one stops and the new one binds at once. Only another process taking the port in that
    instant can still refuse it: then PortInUseError is raised and no server runs.
    """
    global _running
    with _running_lock:
        old = running_server()
        try:
            new = Server(host, port, **options)
        except PortInUseError:
            if old is None or port != old.address[1]:
                raise
            old.stop()
            _running = None
            new = Server(host, port, **options)  # the port was old's: free now
        else:
            if old is not None:
                old.stop()
        _running = new.start()
    return new


def stop_server() -> None:
    """Stop this process's server, if one runs."""
    global _running
    with _running_lock:
        server, _running = _running, None
    if server is not None:
        server.stop()


def running_server() -> Optional[Server]:
    """This process's running server, or None."""
    server = _running
    return server if server is not None and server.is_alive() else None


def _log_to_stderr() -> None:
    """quiet=False: show hrpyc's events, as SideFX's server showed rpyc's."""
    logger = logging.getLogger("hrpyc")
    if not any(getattr(h, "stream", None) is sys.stderr for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
