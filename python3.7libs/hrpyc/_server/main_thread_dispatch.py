"""Server side: the dispatch modes with one thread that runs `hou` - `main`, `qt` and `caller` (see
hrpyc._server.dispatch): requests queued for that thread, run there in order, and refused as busy when
their client's time runs out before the thread takes them."""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from typing import Any, Callable, Deque, Optional, Tuple

from hrpyc._common.parking import main_thread_is_parked
from hrpyc._houdini import houdini
from hrpyc._server import job_threads
from hrpyc._server.thread_dispatch import Dispatcher
from hrpyc._wire.remote_errors import busy_refusal

log = logging.getLogger(__name__)

FOLLOW_WAIT = 0.0005  # how long the main thread waits for a client's next request after answering one ...
FOLLOW_FOR = 0.01  # ... and for how long in all before Houdini's event loop has the main thread back
# Both timed with perf_counter: time.monotonic ticks every 15.6 ms on Windows before Python 3.13 (Houdini
# 18.5-21), so a follow timed with it would end at once or last half again as long.

Post = Callable[[Callable[[], None]], Any]

Adapt = Callable[[], Callable[[], None]]  # changes the process while a mode serves; returns the undo


def pickup_within(timeout: float) -> float:
    """How long a request may wait for the main thread to take it, from when it arrived: the client's
    timeout, which began when it sent the request, less what reading the request and sending our busy
    answer take - a tenth, and at least half a second (a loaded machine, or Windows under Wine, takes
    tenths) - but never under half of it."""
    return max(timeout / 2, timeout - max(0.5, timeout / 10))


# What becomes of a MainThreadCall: it waits in the queue, the main thread takes it and answers it; or the
# server stops first (DROPPED), or its client's time runs out first (BUSY). A job's are hrpyc._wire.job_states.
WAITING, TAKEN, ANSWERED, DROPPED, BUSY = "waiting", "taken", "answered", "dropped", "busy"


class MainThreadCall(object):
    """A request on its way to the main thread. While it waits in the queue its state changes only under
    its dispatcher's lock: the main thread taking it, its connection's thread giving up on it (BUSY) and
    close() dropping it must each see the others' change. Once out of the queue, only the thread that took
    it out changes it: settle() sets the last state, outside the lock, before it releases `_done`, and the
    connection's thread reads that state only after acquiring `_done`. `_done` is held until the call is
    answered or dropped, so waiting on it is one lock acquire."""

    __slots__ = ("_done", "posted_at", "request", "started_at", "state")

    def __init__(self, request: Any) -> None:
        self.request = request
        self.state = WAITING
        self.posted_at = time.monotonic()
        self.started_at = 0.0
        self._done = threading.Lock()
        self._done.acquire()

    def settle(self, state: str) -> None:
        self.state = state
        self._done.release()

    def wait(self, seconds: Optional[float]) -> bool:
        return self._done.acquire(timeout=-1 if seconds is None else seconds)


class MainThreadDispatcher(Dispatcher):
    """Run requests on the main thread, first in first out.

    Requests wait in our own queue; `post` (executeDeferred, or a Qt wake-up) is called only when the
    queue was empty, and the main thread then runs everything queued in one go, so a burst of
    requests costs one wake-up, not one each.

    A script's calls come one after another (`hou.node(p).parm(n).set(v)` is three), and handing each
    from its connection's thread to the main thread and back costs two thread switches, as much again
    as the call. So once the queue is empty, the main thread follows the client it has just answered:
    it waits up to FOLLOW_WAIT for that client's next request and runs it itself, as it comes off the
    socket (its connection's thread is still parked on its call meanwhile). It stops as soon as another
    request is queued, and after FOLLOW_FOR, so Houdini's event loop gets the main thread back.
    """

    def __init__(self, name: str, post: Post, adapt: Optional[Adapt] = None) -> None:
        self.name = name
        self._post = post
        self._adapt = adapt
        self._restore: Optional[Callable[[], None]] = None
        self._home = threading.main_thread()  # the thread that drains the queue
        self._lock = threading.Lock()
        self._queue: Deque[MainThreadCall] = collections.deque()
        self._running: Optional[MainThreadCall] = None
        self._drain_posted = False
        self._closed = False
        self._following = False  # the main thread waits for the next request of the client it answered

    def run(self, request: Any) -> None:
        home = threading.current_thread() is self._home
        if home and self._following:  # read off the socket by the main thread itself: see _follow
            self._run_followed(request)
            return
        if request.light or home or main_thread_is_parked():
            # light: ping and handshake must answer while Houdini is busy; home thread: a nested request
            # (a callback into the client that calls back); parked: see main_thread_is_parked().
            request.run()
            return
        call = self._enqueue(request)
        if call is None:
            request.refuse(ConnectionAbortedError("hrpyc: the server is stopping"))
            return
        if request.needs_no_reply:
            return
        timeout = request.conn.timeout
        if not call.wait(None if timeout is None else pickup_within(timeout)):
            with self._lock:
                if call.state is WAITING:  # not taken in time: drop it, never run it late
                    self._queue.remove(call)
                    call.state = BUSY
            if call.state is BUSY:
                # a timeout here: wait(None) returns only once the call is taken
                request.refuse(busy_refusal(timeout or 0.0, self.busy_holder()))
                return
            call.wait(None)  # taken just now: a running request is never interrupted
        if call.state is DROPPED:
            request.refuse(ConnectionAbortedError("hrpyc: the server stopped before the request ran"))

    def _enqueue(self, request: Any) -> Optional[MainThreadCall]:
        """Queue `request` for the main thread, waking it if the queue was empty; None once closed."""
        call = MainThreadCall(request)
        with self._lock:
            if self._closed:
                return None
            self._queue.append(call)
            post, self._drain_posted = not self._drain_posted, True
        if post:
            self._post(self._drain)
        return call

    def runs_jobs_here(self) -> bool:
        return threading.current_thread() is self._home

    def start(self, job: Any) -> None:
        if main_thread_is_parked():  # it waits in a client call: see run()
            job_threads.start(job)
        elif self._enqueue(job) is None:  # closed: what comes now is hrpyc's own (closing undo groups)
            self._post(functools.partial(job.run, self._enter))

    def _drain(self) -> None:
        """On the main thread: run every queued request, oldest first."""
        try:
            self._drain_queue()
        except BaseException:  # Ctrl-C in a `caller` server: what is still queued needs a new drain
            with self._lock:
                self._drain_posted = False
            raise

    def _drain_queue(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._drain_posted = False
                    return
                call = self._running = self._queue.popleft()
                call.state, call.started_at = TAKEN, time.monotonic()
            try:
                self._run_call(call)
                if not call.request.needs_no_reply:
                    self._follow(call.request.conn)  # before the call settles: its thread stays off the socket
            finally:
                with self._lock:
                    self._running = None
                    closed = self._closed
                call.settle(ANSWERED)
                if closed:
                    self._undo()  # close() came while this call ran: it may still have needed the adaptation

    def _run_call(self, call: MainThreadCall) -> None:
        try:
            call.request.run(self._enter)
            if call.request.conn is not None:  # a job (see start) may outlive its connection
                call.request.conn.apply_releases()  # what the client dropped, destroyed on the main thread
        except Exception:  # rpyc answers the request's own errors; this is a reply that could not be sent
            log.debug("hrpyc: a reply could not be sent", exc_info=True)
        finally:
            with self._lock:
                self._running = None

    def _follow(self, conn: Any) -> None:
        """On the main thread: serve `conn`'s next requests here, while they come quickly and nobody
        else waits (see the class docstring)."""
        if not conn.can_be_served_elsewhere():
            return
        until = time.perf_counter() + FOLLOW_FOR
        self._following = True
        try:
            while not self._closed and not self._queue and time.perf_counter() < until:
                if not conn.serve_next(FOLLOW_WAIT):
                    return
        finally:
            self._following = False

    def _run_followed(self, request: Any) -> None:
        """A request `_follow` read: run as if it had been queued, with the main thread busy meanwhile."""
        call = MainThreadCall(request)
        with self._lock:
            call.state, call.started_at, self._running = TAKEN, time.monotonic(), call
        self._following = False  # what this request causes (a callback that calls back) is nested
        try:
            self._run_call(call)
        finally:
            self._following = True

    # What a request enters, on this thread, and leaves before its answer (see Request.run): nothing
    # on the main thread itself.
    _enter: Optional[Callable[[], Optional[Callable[[], None]]]] = None

    def _held(self) -> Tuple[Optional[MainThreadCall], float]:
        """The call running on the main thread (None if none of ours is), and for how many seconds the
        main thread has been held: since that call started, else since the oldest queued one waits."""
        with self._lock:
            running, oldest = self._running, (self._queue[0] if self._queue else None)
        since = running.started_at if running is not None else oldest.posted_at if oldest is not None else None
        return running, 0.0 if since is None else time.monotonic() - since

    def busy_for(self) -> float:
        return self._held()[1]

    def busy_holder(self) -> str:
        running, seconds = self._held()
        if running is None:  # nothing of ours: Houdini's own work, or a dialog the user has open
            return "Houdini's own work (a cook, a render, a modal dialog?) for {:.0f} s".format(seconds)
        request = running.request
        return "{} from {} for {:.0f} s".format(request.label, self.who(request.conn), seconds)

    def running_here(self) -> Any:
        with self._lock:
            running = self._running
        return running.request.conn if running is not None and threading.current_thread() is self._home else None

    def open(self) -> None:
        if self._adapt is not None and self._restore is None:
            self._restore = self._adapt()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            dropped, self._queue = list(self._queue), collections.deque()
            for call in dropped:
                call.state = DROPPED  # now: a request that times out meanwhile must not look for it in the queue
            idle = self._running is None
        for call in dropped:
            call.settle(DROPPED)
        if idle:
            self._undo()

    def _undo(self) -> None:
        restore, self._restore = self._restore, None
        if restore is not None:
            restore()


class CallerDispatcher(MainThreadDispatcher):
    """Requests run on the thread that serves (Server.serve_forever's caller), queued as for a main
    thread: SideFX's `start_server(use_thread=False)`, made to keep `hou` on that one thread. In a
    graphical Houdini that thread is the main thread, so hdefereval's waits are adapted as for 'main'."""

    name = "caller"

    def __init__(self) -> None:
        self._wake = threading.Event()
        adapt = houdini.waits_run_directly if houdini.deferred_poster() is not None else None
        super().__init__(self.name, lambda drain: self._wake.set(), adapt)

    def serve(self, stopped: threading.Event, seconds: float) -> None:
        self._home = threading.current_thread()
        if self._closed:
            stopped.wait(seconds)
        elif self._wake.wait(seconds):
            self._wake.clear()
            self._drain()

    # Off the main thread, Houdini's time is this thread's own: run each request in the main thread's,
    # copied back before its answer leaves.
    _enter = staticmethod(houdini.enter_main_context)

    def close(self) -> None:
        super().close()
        self._wake.set()  # the serving thread returns to see the server stopped
