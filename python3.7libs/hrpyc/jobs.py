"""Server side: the jobs a server runs for its clients (hrpyc.submit, hrpyc.run): code that runs where
`hou` is safe without holding its connection, whose state, output and result the client asks for, and
which the client can cancel.

Cancelling a running job raises an exception in the thread that runs it, at its next Python bytecode
(CPython's PyThreadState_SetAsyncExc): Python code stops at once; a long C++ call (a cook, a render)
runs to its end first - Houdini's own interrupt is cooperative, and HOM offers no call that interrupts
another operation - and the job stops as soon as it is back in Python. The exception is a
BaseException, so the job's own `except Exception:` does not swallow it, and it is only ever raised
while the job's code runs (see Job._execute), never in the dispatcher or Houdini's event loop.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import output

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
MAX_OUTPUT = 8 << 20  # characters a job keeps; what it prints beyond is counted, not kept
MAX_WAIT = 1.0  # seconds a poll may wait for news on its connection's thread
Chunk = Tuple[str, str]  # (stream name, text)


class Interrupted(BaseException):
    """Raised inside a job's code by cancel(): not an Exception, so `except Exception` lets it through."""


def execute(source: str, name: str, args: Any, kwargs: Any) -> Any:
    """Run `source` in a fresh namespace: call its function `name` with the arguments, or (no name)
    return the code block's variable `result`."""
    namespace: Dict[str, Any] = {"__name__": "__hrpyc_run__"}
    exec(compile(source, "<hrpyc.run>", "exec"), namespace)
    return namespace[name](*args, **kwargs) if name else namespace.get("result")


class Job(object):
    """One job: `code()` to run, its state, what it printed, its outcome. State changes under `_news`.

    It is also the work item a dispatcher runs (see Dispatcher.start): `run(enter)`, `conn`, `label`,
    `needs_no_reply` and `light` as a request has them."""

    needs_no_reply = True
    light = False

    def __init__(self, job_id: int, name: str, conn: Any, code: Callable[[], Any]) -> None:
        self.id, self.name, self.conn = job_id, name, conn
        self._code = code
        self.state = QUEUED
        self.submitted_at = time.monotonic()
        self.started_at = 0.0
        self.outcome: Any = None  # the packed result (DONE) or the exception (FAILED)
        self.cancelled_how = ""
        self.orphaned = False  # its client is gone, or the server stopped: nobody will read its output
        self._chunks: List[Chunk] = []
        self._kept = 0
        self._news = threading.Condition()
        self._thread: Optional[int] = None  # the ident of the thread running the code, while it may be interrupted
        self.tag = 0  # the client's name for it (see Jobs.submit)

    @property
    def label(self) -> str:
        return "job {} {!r}".format(self.id, self.name)

    def run(self, enter: Optional[Callable[[], Optional[Callable[[], None]]]] = None) -> None:
        """Run the code here, unless the job was cancelled first; `enter` as Request.run takes it."""
        with self._news:
            if self.state is not QUEUED:
                return
            self.state, self.started_at = RUNNING, time.monotonic()
        leave = enter() if enter is not None else None
        try:
            with output.captured(self._printed):
                state, outcome = self._execute()
        except Interrupted:
            # A cancel that landed as the code ended, before the thread was disarmed: the job is over,
            # cancelled. cancel() interrupts a job once, so nothing else can land after this.
            self._disarm(threading.get_ident())
            state, outcome = CANCELLED, None
        finally:
            if leave is not None:
                leave()
        self._finish(state, outcome)

    def _execute(self) -> Tuple[str, Any]:
        ident = threading.get_ident()
        try:
            with self._news:
                self._thread = ident  # from here cancel() may interrupt this thread
                cancelled = bool(self.cancelled_how)  # asked while the job was starting
            if cancelled:
                return CANCELLED, None
            return DONE, self._code()
        except Interrupted:
            return CANCELLED, None
        except BaseException as exc:  # the code's own error, as hrpyc.run reports it (SystemExit too, as rpyc)
            return FAILED, exc
        finally:
            self._disarm(ident)

    def _disarm(self, ident: int) -> None:
        """Stop cancel() from interrupting this thread, and drop an interruption not delivered yet.
        One that lands here, just after the code ended, is the one cancel() sent: it is dropped too."""
        while True:
            try:
                with self._news:
                    self._thread = None
                    _interrupt(ident, None)
                return
            except Interrupted:
                continue

    def _printed(self, stream: str, text: str) -> bool:
        """Keep what the code printed for its client; False when it has none (any more): the text goes to
        Houdini's console, as it did before jobs (a job that stops the server, say)."""
        if self.orphaned or self.conn is None or self.conn.closed:
            return False
        with self._news:
            if self._kept < MAX_OUTPUT:
                text = text[: MAX_OUTPUT - self._kept]
                self._kept += len(text)
                self._chunks.append((stream, text))
                if self._kept >= MAX_OUTPUT:
                    self._chunks.append(("stderr", "\nhrpyc: the job printed more than 8 MB; the rest is not kept\n"))
                self._news.notify_all()
        return True

    def _finish(self, state: str, outcome: Any) -> None:
        with self._news:
            if self.state in FINISHED:
                return
            self.state, self.outcome = state, outcome
            self._news.notify_all()

    def cancel(self, how: str) -> str:
        """Drop the job if queued, interrupt its code if running; its state afterwards."""
        with self._news:
            if self.state is QUEUED:
                self.state, self.cancelled_how = CANCELLED, how
                self._news.notify_all()
            elif self.state is RUNNING and not self.cancelled_how:
                self.cancelled_how = how  # a job still starting sees it before its code runs
                if self._thread is not None:
                    _interrupt(self._thread, Interrupted)
            return self.state

    def news(self, index: int, wait: float) -> Tuple[str, Tuple[Chunk, ...]]:
        """(state, output chunks from `index` on), waiting up to `wait` s for either to change."""
        with self._news:
            if self.state not in FINISHED and len(self._chunks) <= index and wait > 0:
                self._news.wait(wait)
            return self.state, tuple(self._chunks[index:])


def _interrupt(ident: int, exception: Optional[type]) -> None:
    """Raise `exception` in thread `ident` at its next bytecode (None: forget one not raised yet)."""
    raised = None if exception is None else ctypes.py_object(exception)  # None: a NULL pointer
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), raised)


class Jobs(object):
    """A server's jobs, by id, until their client takes the result or goes away."""

    def __init__(self, start: Callable[[Job], None], runs_here: Callable[[], bool]) -> None:
        self._start = start  # the dispatcher's: run a job where hou is safe, without waiting for it
        # The dispatcher's: does the calling thread run jobs (the main thread)? There, nothing may wait
        # for a job: it would wait for itself.
        self.runs_here = runs_here
        self._lock = threading.Lock()
        self._jobs: Dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._closed = False

    def submit(self, conn: Any, name: str, code: Callable[[], Any], tag: int = 0) -> Job:
        """Start a job; `tag` is the client's own name for it, until it learns the job's id."""
        job = Job(next(self._ids), name, conn, code)
        job.tag = tag
        with self._lock:
            closed = self._closed
            if not closed:
                self._jobs[job.id] = job
        if closed:
            job.cancel("the server is stopping")
        else:
            self._start(job)
        return job

    def find(self, conn: Any, job_id: Any) -> Job:
        """`conn`'s job `job_id`; ValueError (the client's error, in one line) if it has none."""
        with self._lock:
            job = self._jobs.get(job_id) if type(job_id) is int else None
        if job is None or job.conn is not conn:
            raise ValueError("no job {!r} of this connection (its result was taken already?)".format(job_id))
        return job

    def tagged(self, conn: Any, tag: Any) -> Optional[Job]:
        """`conn`'s job the client tagged `tag` (see submit), or None."""
        if type(tag) is not int or not tag:
            return None
        return next((job for job in self.of(conn) if job.tag == tag), None)

    def forget(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)

    def of(self, conn: Any) -> List[Job]:
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


def describe(job: Job) -> str:
    """One job as a client record names it: "job 3 'cache' (running 12 s)"."""
    since = job.started_at if job.state is RUNNING else job.submitted_at
    return "{} ({} {:.0f} s)".format(job.label, job.state, time.monotonic() - since)
