"""Server side: where a request runs: the one seam that decides, per server, which thread touches `hou`.

- `main`  a graphical Houdini: requests run on Houdini's main thread, queued with
          `hdefereval.executeDeferred` and awaited on a per-request condition (never
          `executeInMainThreadWithResult`: no timeout, deadlocks from the main thread, shared result).
- `qt`    any other process with a Qt application: requests run on the Qt main thread.
- `thread` hython and plain Python: requests run on their connection's thread, in Houdini's main
          time context.
- `caller` `start_server(use_thread=False)`: requests run on the thread that called it (in hython,
          the main thread), one at a time, as in the main-thread modes.

Whatever the mode, nothing here polls: waiting threads sleep on a condition until woken.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from typing import Any, Callable, Deque, NamedTuple, Optional, Tuple

from hrpyc._common.parking import main_thread_is_parked
from hrpyc._houdini import hou_module as houdini
from hrpyc._server import qtloop
from hrpyc._wire.remote_errors import busy_refusal
from hrpyc.errors import DispatchError

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


class MainThreadMode(NamedTuple):
    name: str
    find_poster: Callable[[], Optional[Post]]
    adapt: Optional[Adapt]  # see houdini.waits_run_directly
    missing: str  # why the mode cannot work, when find_poster finds nothing


# The main-thread modes 'auto' tries, in order.
_MAIN_THREADS = (
    MainThreadMode(
        "main",
        houdini.deferred_poster,
        houdini.waits_run_directly,
        "no graphical Houdini here (hython and plain Python have no hdefereval)",
    ),
    MainThreadMode("qt", qtloop.application_poster, None, "this process has no PySide2/PySide6 QApplication"),
)


def make_dispatcher(mode: str) -> Dispatcher:
    """The dispatcher for `mode` ('auto' picks main, then qt, then thread); DispatchError if impossible."""
    for main_thread in _MAIN_THREADS:
        if mode in ("auto", main_thread.name):
            post = main_thread.find_poster()
            if post is not None:
                return MainThreadDispatcher(main_thread.name, post, main_thread.adapt)
            if mode == main_thread.name:
                raise DispatchError(mode, main_thread.missing)
    return ThreadDispatcher()


class Dispatcher(object):
    """Takes each request on its connection's thread and returns once it has been answered."""

    name = ""

    def run(self, request: Any) -> None:
        raise NotImplementedError

    def open(self) -> None:
        """The server starts serving."""

    def serve(self, stopped: threading.Event, seconds: float) -> None:
        """On the thread of Server.serve_forever(): run what waits for that thread, or wait up to
        `seconds` for the server to stop."""
        stopped.wait(seconds)

    def start(self, job: Any) -> None:
        """Run `job` (a jobs.Job) where `hou` is safe, without waiting for it."""
        _on_a_thread_of_its_own(job)

    def runs_jobs_here(self) -> bool:
        """Whether jobs run on the calling thread (so it must never wait for one)."""
        return False

    # How a busy message names a client (by its connection); the server sets its own.
    who: Callable[[Any], str] = staticmethod(lambda conn: "a client")

    def busy_for(self) -> float:
        """Seconds the oldest request has waited for, or run on, the main thread; 0 when idle."""
        return 0.0

    def busy_holder(self) -> str:
        """What holds the main thread, for a busy message: "job 3 'cache' from maya (...) for 42 s"."""
        return ""

    def running_here(self) -> Any:
        """The connection whose request runs on the calling thread, waiting for it; None if none does."""
        return None

    def close(self) -> None:
        """Refuse what is still queued; the server is stopping."""


def _on_a_thread_of_its_own(job: Any) -> None:
    """Run a job on a thread of its own, in the main thread's Houdini time (as a thread-mode request)."""
    _workers.run(job)


class _Workers(object):
    """Daemon threads that run jobs off the main thread, at most MAX_THREADS at once; the jobs beyond wait,
    each connection's in the order it sent them, the connections taking turns (one client's hundred jobs
    do not hold back another's one). An idle thread waits IDLE_FOR for another job before it ends:
    starting a thread costs more than a small `hrpyc.run` does."""

    # A thread costs memory, and beyond a few only contention: Python code runs one thread at a time, and
    # so do hou's calls. Jobs that wait (on a file, a process, a socket) are what more threads would help.
    MAX_THREADS = 16
    IDLE_FOR = 60.0  # seconds

    def __init__(self) -> None:
        self._lock = threading.Condition(threading.Lock())
        # Waiting jobs by connection, the connection whose turn is next first.
        self._waiting: collections.OrderedDict[Any, Deque[Any]] = collections.OrderedDict()
        self._queued = 0  # jobs in _waiting
        self._threads = 0
        self._idle = 0  # threads waiting for a job

    def run(self, job: Any) -> None:
        with self._lock:
            queue = self._waiting.get(job.conn)
            if queue is None:
                self._drop_closed()
                queue = self._waiting[job.conn] = collections.deque()
            queue.append(job)
            self._queued += 1
            if self._queued <= self._idle:
                self._lock.notify()
                return
            if self._threads >= self.MAX_THREADS:
                return
            self._threads += 1
        try:
            threading.Thread(target=self._work, name="hrpyc-job", daemon=True).start()
        except BaseException:
            with self._lock:
                self._threads -= 1
            raise

    def _drop_closed(self) -> None:
        """Forget the jobs waiting for connections that closed: each is cancelled (see Jobs.client_left)."""
        for conn in [conn for conn in self._waiting if conn is not None and conn.closed]:
            self._queued -= len(self._waiting.pop(conn))

    def _work(self) -> None:
        job = self._next()
        while job is not None:
            job.run(houdini.enter_main_context)
            job = self._next()

    def _next(self) -> Any:
        """The next job, the connections taking turns; None after IDLE_FOR without one (the thread ends)."""
        with self._lock:
            while not self._queued:
                self._idle += 1
                try:
                    woken = self._lock.wait(self.IDLE_FOR)
                finally:
                    self._idle -= 1
                if not woken and not self._queued:
                    self._threads -= 1
                    return None
            conn, queue = next(iter(self._waiting.items()))
            job = queue.popleft()
            self._queued -= 1
            if queue:
                self._waiting.move_to_end(conn)
            else:
                del self._waiting[conn]
            return job


_workers = _Workers()


class ThreadDispatcher(Dispatcher):
    """Run on the connection's thread; only a thread's outermost request syncs Houdini's time (a nested
    one, from a callback into the client that calls back into us, runs inside its parent's context)."""

    name = "thread"

    def __init__(self) -> None:
        self._depth = threading.local()

    def run(self, request: Any) -> None:
        depth = getattr(self._depth, "value", 0)
        self._depth.value = depth + 1
        try:
            # The outermost request copies Houdini's time back before its answer leaves: the client's
            # next request, or another client's, must see the frame this one set. A deletion (sent
            # without waiting, so it can overlap another client's request) or a look-up runs no hou
            # code: copying its time back would put back a frame older than that other request's.
            timeless = depth or request.needs_no_reply or request.light
            request.run(None if timeless else houdini.enter_main_context)
            request.conn.apply_releases()  # what the client dropped, destroyed here, where hou runs
        finally:
            self._depth.value = depth


QUEUED, RUNNING, DONE, DROPPED, BUSY = "queued", "running", "done", "dropped", "busy"


class _Job(object):
    """A request on its way to the main thread. Its state changes under its dispatcher's lock; `_done`
    is held until the job is finished or dropped, so waiting on it is one lock acquire."""

    __slots__ = ("_done", "posted_at", "request", "started_at", "state")

    def __init__(self, request: Any) -> None:
        self.request = request
        self.state = QUEUED
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

    Jobs wait in our own queue; `post` (executeDeferred, or a Qt wake-up) is called only when the
    queue was empty, and the main thread then runs everything queued in one go, so a burst of
    requests costs one wake-up, not one each.

    A script's calls come one after another (`hou.node(p).parm(n).set(v)` is three), and handing each
    from its connection's thread to the main thread and back costs two thread switches, as much again
    as the call. So once the queue is empty, the main thread follows the client it has just answered:
    it waits up to FOLLOW_WAIT for that client's next request and runs it itself, as it comes off the
    socket (its connection's thread is still parked on the job meanwhile). It stops as soon as another
    request is queued, and after FOLLOW_FOR, so Houdini's event loop gets the main thread back.
    """

    def __init__(self, name: str, post: Post, adapt: Optional[Adapt] = None) -> None:
        self.name = name
        self._post = post
        self._adapt = adapt
        self._restore: Optional[Callable[[], None]] = None
        self._home = threading.main_thread()  # the thread that drains the queue
        self._lock = threading.Lock()
        self._queue: Deque[_Job] = collections.deque()
        self._running: Optional[_Job] = None
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
            # (a callback into the client that calls back); parked: see main_thread_parked().
            request.run()
            return
        job = self._enqueue(request)
        if job is None:
            request.refuse(ConnectionAbortedError("hrpyc: the server is stopping"))
            return
        if request.needs_no_reply:
            return
        timeout = request.conn.timeout
        if not job.wait(None if timeout is None else pickup_within(timeout)):
            with self._lock:
                if job.state is QUEUED:  # not taken in time: drop it, never run it late
                    self._queue.remove(job)
                    job.state = BUSY
            if job.state is BUSY:
                # a timeout here: wait(None) returns only once the job is taken
                request.refuse(busy_refusal(timeout or 0.0, self.busy_holder()))
                return
            job.wait(None)  # taken just now: a running request is never interrupted
        if job.state is DROPPED:
            request.refuse(ConnectionAbortedError("hrpyc: the server stopped before the request ran"))

    def _enqueue(self, request: Any) -> Optional[_Job]:
        """Queue `request` for the main thread, waking it if the queue was empty; None once closed."""
        job = _Job(request)
        with self._lock:
            if self._closed:
                return None
            self._queue.append(job)
            post, self._drain_posted = not self._drain_posted, True
        if post:
            self._post(self._drain)
        return job

    def runs_jobs_here(self) -> bool:
        return threading.current_thread() is self._home

    def start(self, job: Any) -> None:
        if main_thread_is_parked():  # it waits in a client call: see run()
            _on_a_thread_of_its_own(job)
        elif self._enqueue(job) is None:  # closed: what comes now is hrpyc's own (closing undo groups)
            self._post(functools.partial(job.run, self._enter))

    def _drain(self) -> None:
        """On the main thread: run every queued job, oldest first."""
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
                job = self._running = self._queue.popleft()
                job.state, job.started_at = RUNNING, time.monotonic()
            try:
                self._run_job(job)
                if not job.request.needs_no_reply:
                    self._follow(job.request.conn)  # before the job settles: its thread stays off the socket
            finally:
                with self._lock:
                    self._running = None
                    closed = self._closed
                job.settle(DONE)
                if closed:
                    self._undo()  # close() came while this job ran: it may still have needed the adaptation

    def _run_job(self, job: _Job) -> None:
        try:
            job.request.run(self._enter)
            if job.request.conn is not None:  # a job may outlive its connection
                job.request.conn.apply_releases()  # what the client dropped, destroyed on the main thread
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
        job = _Job(request)
        with self._lock:
            job.state, job.started_at, self._running = RUNNING, time.monotonic(), job
        self._following = False  # what this request causes (a callback that calls back) is nested
        try:
            self._run_job(job)
        finally:
            self._following = True

    # What a request enters, on this thread, and leaves before its answer (see Request.run): nothing
    # on the main thread itself.
    _enter: Optional[Callable[[], Optional[Callable[[], None]]]] = None

    def _held(self) -> Tuple[Optional[_Job], float]:
        """The job running on the main thread (None if none of ours is), and for how many seconds the
        main thread has been held: since that job started, else since the oldest queued one waits."""
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
            for job in dropped:
                job.state = DROPPED  # now: a request that times out meanwhile must not look for it in the queue
            idle = self._running is None
        for job in dropped:
            job.settle(DROPPED)
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
