"""Server side: the Dispatcher interface every dispatch mode implements (see hrpyc._server.dispatch), its
defaults being those of a process without a main thread to serve; and the `thread` mode, for hython and
plain Python: each request on its connection's thread, each job on a thread of its own."""

from __future__ import annotations

import threading
from typing import Any, Callable

from hrpyc._houdini import houdini
from hrpyc._server import job_threads


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
        """Run `job` (a job_record.JobRecord) where `hou` is safe, without waiting for it."""
        job_threads.start(job)

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
