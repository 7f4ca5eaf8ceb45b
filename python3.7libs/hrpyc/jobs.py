"""Server side: the jobs a server runs for its clients (hrpyc.submit, hrpyc.run): code that runs where
`hou` is safe without holding its connection, whose state, output and result the client asks for, and
which the client can cancel.

Cancelling a running job raises an exception in the thread that runs it, at its next Python bytecode
(CPython's PyThreadState_SetAsyncExc): Python code stops at once; a long C++ call (a cook, a render)
runs to its end first - Houdini's own interrupt is cooperative, and HOM offers no call that interrupts
another operation - and the job stops as soon as it is back in Python. The exception is a
BaseException, so the job's own `except Exception:` does not swallow it, and it is only ever raised
while the job's code runs (see Job._execute), never in the dispatcher or Houdini's event loop. It can
land at any bytecode of that thread, hrpyc's own code included (what the job prints passes through
Job._printed): the lock the job thread takes is a C lock taken and left by `with`, each in one step, so an
exception never falls between taking it and the block that gives it back.

Bounds: a connection has at most MAX_JOBS jobs on the server (a submit beyond is refused in one line);
a job keeps at most MAX_OUTPUT characters its client has not read (the oldest go, and a marker says how
many); off the main thread, the dispatcher runs a few jobs at once and queues the rest (see dispatch).
"""

from __future__ import annotations

import builtins
import ctypes
import itertools
import marshal
import platform
import threading
import time
import types
from importlib.util import MAGIC_NUMBER
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import output
from .output import Chunk

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
MAX_OUTPUT = 8 << 20  # characters of a job's output its client has not read that the server keeps
MAX_WAIT = 1.0  # seconds a poll may wait for news on its connection's thread
# Jobs a connection may have on the server at once: queued, running, or ended with their outcome not yet
# taken (those hold their result and output too). A farm script submits a few hundred; beyond the
# dispatcher's threads they wait their turn anyway, so more would only hold memory.
MAX_JOBS = 500
TOO_MANY = (
    "this connection has {:,} jobs there, the most one connection may have (queued, running, or ended with "
    "their result not taken); take results (job.result()) or cancel some (job.cancel()), then submit again"
)


class Interrupted(BaseException):
    """Raised inside a job's code by cancel(): not an Exception, so `except Exception` lets it through."""


class Refused(Exception):
    """A job the server did not take; the message says why, in one line."""


def execute(source: Union[str, types.CodeType], name: str, args: Any, kwargs: Any) -> Any:
    """Run `source` in a fresh namespace: call its function `name` with the arguments, or (no name)
    return the code block's variable `result`; or call the function whose code `source` is (see compiled)."""
    namespace: Dict[str, Any] = {"__name__": "__hrpyc_run__", "__builtins__": builtins}
    if isinstance(source, types.CodeType):
        return types.FunctionType(source, namespace, name)(*args, **kwargs)
    exec(compile(source, "<hrpyc.run>", "exec"), namespace)
    return namespace[name](*args, **kwargs) if name else namespace.get("result")


def compiled(data: bytes) -> types.CodeType:
    """The code of a function a client sent compiled, behind its Python's bytecode magic number, because
    Python kept no source of it (see hrpyc.job): ValueError, in one line, unless this Python compiled the
    same bytecode (another version's would not run here, or crash). Only a client past the server's gate
    sends it, and it may run any code here anyway."""
    if data[: len(MAGIC_NUMBER)] != MAGIC_NUMBER:
        raise ValueError(
            "this function was compiled by another Python version than the server's ({}); send its source "
            "or a string of code".format(platform.python_version())
        )
    try:
        code = marshal.loads(data[len(MAGIC_NUMBER) :])
    except (ValueError, EOFError, TypeError):
        code = None
    if not isinstance(code, types.CodeType) or code.co_freevars:
        raise ValueError("what was sent as a function's compiled code is not the code of a function that stands alone")
    return code


class Job(object):
    """One job: `code()` to run, its state, what it printed, its outcome. State and output change under
    `_lock`; `_wake` is released when there is news for a poll waiting (see news).

    It is also the work item a dispatcher runs (see Dispatcher.start): `run(enter)`, `conn`, `label`,
    `needs_no_reply` and `light` as a request has them."""

    needs_no_reply = True
    light = False

    def __init__(self, job_id: int, name: str, conn: Any, code: Callable[[], Any]) -> None:
        self.id, self.name, self.conn = job_id, name, conn
        self._code: Optional[Callable[[], Any]] = code  # None once it has run or will not: it holds the arguments
        self.state = QUEUED
        self.submitted_at = time.monotonic()
        self.started_at = 0.0
        self.outcome: Any = None  # the packed result (DONE) or the exception (FAILED)
        self.cancelled_how = ""
        self.orphaned = False  # its client is gone, or the server stopped: nobody will read its output
        self._output = output.Backlog(MAX_OUTPUT)
        # Not a Condition: its __enter__ and notify are Python code, where a cancel could land with the lock
        # taken and never given back. An RLock: a finalizer run by the garbage collector while the job
        # thread holds it may print (it comes back through _printed).
        self._lock = threading.RLock()
        self._wake = threading.Lock()
        self._wake.acquire()
        self._thread: Optional[int] = None  # the ident of the thread running the code, while it may be interrupted
        self.tag = 0  # the client's name for it (see Jobs.submit)

    @property
    def label(self) -> str:
        return "job {} {!r}".format(self.id, self.name)

    def run(self, enter: Optional[Callable[[], Optional[Callable[[], None]]]] = None) -> None:
        """Run the code here, unless the job was cancelled first; `enter` as Request.run takes it."""
        with self._lock:
            if self.state is not QUEUED:
                return
            self.state, self.started_at = RUNNING, time.monotonic()
            code, self._code = self._code, None
        leave = enter() if enter is not None else None
        try:
            with output.captured(self._printed):
                state, outcome = self._execute(code)
        except Interrupted:
            # A cancel that landed as the code ended, before the thread was disarmed: the job is over,
            # cancelled. cancel() interrupts a job once, so nothing else can land after this.
            self._disarm(threading.get_ident())
            state, outcome = CANCELLED, None
        finally:
            if leave is not None:
                leave()
        self._finish(state, outcome)

    def _execute(self, code: Any) -> Tuple[str, Any]:
        ident = threading.get_ident()
        try:
            with self._lock:
                self._thread = ident  # from here cancel() may interrupt this thread
                cancelled = bool(self.cancelled_how)  # asked while the job was starting
            if cancelled:
                return CANCELLED, None
            return DONE, code()
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
                with self._lock:
                    self._thread = None
                    _interrupt(ident, None)
                return
            except Interrupted:
                continue

    def _printed(self, stream: str, text: str) -> bool:
        """Keep what the code printed for its client; False when it has none (any more): the text goes to
        Houdini's console, as it did before jobs (a job that stops the server, say).

        Runs on the job's thread, where a cancel may land at any bytecode: see the module docstring and
        output.Backlog."""
        if self.orphaned or self.conn is None or self.conn.closed:
            return False
        if text:
            with self._lock:
                self._output.write(stream, text)
            self._tell()
        return True

    def _finish(self, state: str, outcome: Any) -> None:
        with self._lock:
            if self.state in FINISHED:
                return
            self.state, self.outcome = state, outcome
        self._tell()

    def cancel(self, how: str) -> str:
        """Drop the job if queued, interrupt its code if running; its state afterwards."""
        with self._lock:
            dropped = self.state is QUEUED
            if dropped:
                self.state, self.cancelled_how, self._code = CANCELLED, how, None
            elif self.state is RUNNING and not self.cancelled_how:
                self.cancelled_how = how  # a job still starting sees it before its code runs
                if self._thread is not None:
                    _interrupt(self._thread, Interrupted)
            state = self.state
        if dropped:
            self._tell()
        return state

    def news(self, index: int, wait: float) -> Tuple[str, Tuple[Chunk, ...]]:
        """(state, output chunks from number `index` on), waiting up to `wait` s for either to change.
        `index` is how many chunks the client has: what it has is not kept any longer."""
        self._wake.acquire(False)  # a wake-up from before this poll: what it announced is read below
        if wait > 0:
            with self._lock:
                waits = self.state not in FINISHED and not self._output.has_news(index)
            if waits:
                self._wake.acquire(timeout=wait)
        with self._lock:
            return self.state, self._output.since(index)

    def _tell(self) -> None:
        """Wake a poll waiting for news. One C call: a cancel landing around it costs a poll at most its wait."""
        if self._wake.locked():
            try:
                self._wake.release()
            except RuntimeError:  # another thread told it just now
                pass


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
        self._held: Dict[Any, int] = {}  # how many of _jobs each connection has
        self._ids = itertools.count(1)
        self._closed = False

    def submit(self, conn: Any, name: str, code: Callable[[], Any], tag: int = 0) -> Job:
        """Start a job; `tag` is the client's own name for it, until it learns the job's id. Refused (in
        the client's words) when the server is stopping or `conn` has MAX_JOBS jobs already."""
        with self._lock:
            held = self._held.get(conn, 0)
            if self._closed:
                raise Refused("the server is stopping")
            if held >= MAX_JOBS:
                raise Refused(TOO_MANY.format(held))
            job = Job(next(self._ids), name, conn, code)
            job.tag = tag
            self._jobs[job.id] = job
            self._held[conn] = held + 1
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
            if self._jobs.pop(job.id, None) is not None:
                held = self._held.pop(job.conn) - 1
                if held:
                    self._held[job.conn] = held

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
