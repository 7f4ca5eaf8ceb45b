"""Server side: the table of a server's jobs (hrpyc.submit, hrpyc.run), by id, from their submitting until
their client takes the outcome or goes away; each job itself is a JobRecord (see hrpyc._server.job_record).

Bounds: a connection has at most MAX_JOBS jobs on the server (a submit beyond is refused in one line);
a job keeps at most job_record.MAX_OUTPUT characters its client has not read; off the main thread, the
dispatcher runs a few jobs at once and queues the rest (see hrpyc._server.job_threads).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from hrpyc._server.job_record import JobRecord
from hrpyc._wire.job_states import QUEUED, RUNNING

MAX_WAIT = 1.0  # seconds a poll may wait for news on its connection's thread
# Jobs a connection may have on the server at once: queued, running, or ended with their outcome not yet
# taken (those hold their result and output too). A farm script submits a few hundred; beyond the
# dispatcher's threads they wait their turn anyway, so more would only hold memory.
MAX_JOBS = 500
TOO_MANY = (
    "this connection has {:,} jobs there, the most one connection may have (queued, running, or ended with "
    "their result not taken); take results (job.result()) or cancel some (job.cancel()), then submit again"
)


class Refused(Exception):
    """A job the server did not take; the message says why, in one line."""


class JobTable(object):
    """A server's jobs, by id, until their client takes the result or goes away."""

    def __init__(
        self,
        start: Callable[[JobRecord], None],
        runs_here: Callable[[], bool],
        who: Callable[[Any], str],
    ) -> None:
        self._start = start  # the dispatcher's: run a job where hou is safe, without waiting for it
        self._who = who  # the server's: a client as a busy message names it, for Houdini's status line
        # The dispatcher's: does the calling thread run jobs (the main thread)? There, nothing may wait
        # for a job: it would wait for itself.
        self.runs_here = runs_here
        self._lock = threading.Lock()
        self._jobs: Dict[int, JobRecord] = {}
        self._held: Dict[Any, int] = {}  # how many of _jobs each connection has
        self._ids = itertools.count(1)
        self._closed = False

    def submit(self, conn: Any, name: str, code: Callable[[], Any], tag: int = 0) -> JobRecord:
        """Start a job; `tag` is the client's own name for it, until it learns the job's id. Refused (in
        the client's words) when the server is stopping or `conn` has MAX_JOBS jobs already."""
        owner = self._who(conn)  # before our lock: the server takes its own
        with self._lock:
            held = self._held.get(conn, 0)
            if self._closed:
                raise Refused("the server is stopping")
            if held >= MAX_JOBS:
                raise Refused(TOO_MANY.format(held))
            job = JobRecord(next(self._ids), name, conn, code)
            job.tag, job.owner = tag, owner
            self._jobs[job.id] = job
            self._held[conn] = held + 1
        self._start(job)
        return job

    def find(self, conn: Any, job_id: Any) -> JobRecord:
        """`conn`'s job `job_id`; ValueError (the client's error, in one line) if it has none."""
        with self._lock:
            job = self._jobs.get(job_id) if type(job_id) is int else None
        if job is None or job.conn is not conn:
            raise ValueError("no job {!r} of this connection (its result was taken already?)".format(job_id))
        return job

    def tagged(self, conn: Any, tag: Any) -> Optional[JobRecord]:
        """`conn`'s job the client tagged `tag` (see submit), or None."""
        if type(tag) is not int or not tag:
            return None
        return next((job for job in self.of(conn) if job.tag == tag), None)

    def forget(self, job: JobRecord) -> None:
        with self._lock:
            if self._jobs.pop(job.id, None) is not None:
                held = self._held.pop(job.conn) - 1
                if held:
                    self._held[job.conn] = held

    def of(self, conn: Any) -> List[JobRecord]:
        """`conn`'s jobs, oldest first."""
        with self._lock:
            return [job for job in self._jobs.values() if job.conn is conn]

    def client_left(self, conn: Any) -> None:
        """A client went away: its jobs end, cancelled (a running one at its next bytecode)."""
        for job in self.of(conn):
            job.orphaned = True
            job.cancel("its client disconnected")
            self.forget(job)

    def close(self) -> None:
        """The server stops: queued jobs are dropped; running ones run to their end, as requests do."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job.orphaned = True
            if job.state is QUEUED:
                job.cancel("the server stopped")


def describe(job: JobRecord) -> str:
    """One job as a client record names it: "job 3 'cache' (running 12 s)", "... (running 12 s, 40 %)"."""
    running, reported = job.state is RUNNING, job.progress
    since = job.started_at if running else job.submitted_at
    done = ", {:.0f} %".format(reported[0] * 100) if running and reported is not None else ""
    return "{} ({} {:.0f} s{})".format(job.label, job.state, time.monotonic() - since, done)
