"""Server side: the threads that run jobs off the main thread (hrpyc.submit in hython or plain Python, and
in any mode while the main thread is parked in a client call): a small pool, shared by all servers, that
queues the jobs beyond its threads, so a client's hundred jobs cost neither a hundred threads nor another
client's turn."""

from __future__ import annotations

import collections
import threading
from typing import Any, Deque

from hrpyc._houdini import houdini


class JobThreads(object):
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
        """Forget the jobs waiting for connections that closed: each is cancelled (see JobTable.client_left)."""
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


_pool = JobThreads()


def start(job: Any) -> None:
    """Run `job` (a job_record.JobRecord) on one of the pool's threads - at once, or when its turn comes - in
    the main thread's Houdini time (as a thread-mode request), without waiting for it."""
    _pool.run(job)
