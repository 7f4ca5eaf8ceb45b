"""Where a request runs: the one seam that decides, per server, which thread touches `hou`.

- `main`  a graphical Houdini: requests run on Houdini's main thread, queued with
          `hdefereval.executeDeferred` and awaited on a per-request condition (never
          `executeInMainThreadWithResult`: no timeout, deadlocks from the main thread, shared result).
- `qt`    any other process with a Qt application: requests run on the Qt main thread.
- `thread` hython and plain Python: requests run on their connection's thread, in Houdini's main
          time context.

Whatever the mode, nothing here polls: waiting threads sleep on a condition until woken.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Set

from . import houdini, qtloop
from .errors import DispatchError, HoudiniBusyError

log = logging.getLogger(__name__)

MODES = ("auto", "main", "qt", "thread")
PICKUP_SHARE = 0.9  # of the client's timeout, so our busy answer reaches it before its own timer fires

Post = Callable[[Callable[[], None]], Any]

_parked_lock = threading.Lock()
_parked = 0


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def main_thread_parked() -> Iterator[None]:
    """Mark the main thread as waiting inside an hrpyc client call.

    A shelf tool that connects to its own Houdini blocks the main thread on the socket; requests
    queued for the main thread would then wait for ever. While it is parked, requests run on their
    connection's thread instead: the main thread does nothing else meanwhile, so they cannot race it.
    """
    global _parked
    if not _on_main_thread():
        yield
        return
    with _parked_lock:
        _parked += 1
    try:
        yield
    finally:
        with _parked_lock:
            _parked -= 1


def make_dispatcher(mode: str) -> Dispatcher:
    """The dispatcher for `mode` ('auto' picks main, then qt, then thread); DispatchError if impossible."""
    if mode in ("auto", "main"):
        post = houdini.deferred_poster()
        if post is not None:
            return MainThreadDispatcher("main", post)
        if mode == "main":
            raise DispatchError(mode, "no graphical Houdini here (hython and plain Python have no hdefereval)")
    if mode in ("auto", "qt"):
        post = qtloop.application_poster()
        if post is not None:
            return MainThreadDispatcher("qt", post)
        if mode == "qt":
            raise DispatchError(mode, "this process has no PySide2/PySide6 QApplication")
    return ThreadDispatcher()


class Dispatcher(object):
    """Takes each request on its connection's thread and returns once it has been answered."""

    name = ""

    def run(self, request: Any) -> None:
        raise NotImplementedError

    def busy_for(self) -> float:
        """Seconds the oldest request has waited for, or run on, the main thread; 0 when idle."""
        return 0.0

    def close(self) -> None:
        """Refuse what is still queued; the server is stopping."""


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
            if depth:
                request.run()
            else:
                with houdini.main_context():
                    request.run()
        finally:
            self._depth.value = depth


QUEUED, RUNNING, DONE, DROPPED = "queued", "running", "done", "dropped"


class _Job(object):
    """A request on its way to the main thread; whoever moves it out of QUEUED first decides its fate."""

    __slots__ = ("_cond", "posted_at", "request", "started_at", "state")

    def __init__(self, request: Any) -> None:
        self.request = request
        self.state = QUEUED
        self.posted_at = time.monotonic()
        self.started_at = 0.0
        self._cond = threading.Condition()

    def take(self) -> bool:
        """On the main thread: claim the job, unless it was dropped meanwhile."""
        with self._cond:
            if self.state is not QUEUED:
                return False
            self.state, self.started_at = RUNNING, time.monotonic()
            return True

    def finish(self) -> None:
        with self._cond:
            self.state = DONE
            self._cond.notify_all()

    def drop(self) -> bool:
        """Drop a job still queued; False if the main thread already took it."""
        with self._cond:
            if self.state is not QUEUED:
                return False
            self.state = DROPPED
            self._cond.notify_all()
            return True

    def wait(self, pickup: Optional[float]) -> str:
        """Wait until done or dropped; drop it if not taken within `pickup` seconds (None: no limit)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.state is not QUEUED, pickup):
                self.state = DROPPED
                return "busy"
            self._cond.wait_for(lambda: self.state in (DONE, DROPPED))
            return self.state


class MainThreadDispatcher(Dispatcher):
    """Run requests on the main thread through `post`, which queues a callable for it."""

    def __init__(self, name: str, post: Post) -> None:
        self.name = name
        self._post = post
        self._lock = threading.Lock()
        self._jobs: Set[_Job] = set()
        self._closed = False

    def run(self, request: Any) -> None:
        if request.light or _on_main_thread() or _parked:
            # light: ping and handshake must answer while Houdini is busy; main thread: a nested request
            # (a callback into the client that calls back); parked: see main_thread_parked().
            request.run()
            return
        job = _Job(request)
        with self._lock:
            if self._closed:
                request.refuse(ConnectionAbortedError("hrpyc: the server is stopping"))
                return
            self._jobs.add(job)
        self._post(lambda: self._run_job(job))
        if request.needs_no_reply:
            return  # it still runs in order: the main thread takes jobs first in, first out
        timeout = request.conn.timeout
        outcome = job.wait(None if timeout is None else timeout * PICKUP_SHARE)
        if outcome == "busy":
            self._forget(job)
            request.refuse(HoudiniBusyError.for_stock_clients(timeout))
        elif outcome == DROPPED:
            request.refuse(ConnectionAbortedError("hrpyc: the server stopped before the request ran"))

    def _run_job(self, job: _Job) -> None:
        if not job.take():
            return  # dropped: too late, or the server stopped; never run late
        try:
            job.request.run()
        except Exception:  # rpyc answers the request's own errors; this is a reply that could not be sent
            log.debug("hrpyc: a reply could not be sent", exc_info=True)
        finally:
            job.finish()
            self._forget(job)

    def _forget(self, job: _Job) -> None:
        with self._lock:
            self._jobs.discard(job)

    def busy_for(self) -> float:
        now = time.monotonic()
        with self._lock:
            since = [job.started_at or job.posted_at for job in self._jobs]
        return now - min(since) if since else 0.0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            jobs = list(self._jobs)
        for job in jobs:
            job.drop()
