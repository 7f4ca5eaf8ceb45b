"""Server side: one job a server runs for a client (hrpyc.submit, hrpyc.run): its code, run where `hou`
is safe without holding its connection; its state, output and progress, which the client asks for; its
outcome; and its cancelling.

Cancelling a running job raises an exception in the thread that runs it, at its next Python bytecode
(CPython's PyThreadState_SetAsyncExc): Python code stops at once; a long C++ call (a cook, a render)
runs to its end first - Houdini's own interrupt is cooperative, and HOM offers no call that interrupts
another operation - and the job stops as soon as it is back in Python. The exception is a
BaseException, so the job's own `except Exception:` does not swallow it, and it is only ever raised
while the job's code runs (see JobRecord._execute), never in the dispatcher or Houdini's event loop. It
can land at any bytecode of that thread, hrpyc's own code included (what the job prints passes through
JobRecord._printed): the lock the job thread takes is a C lock taken and left by `with`, each in one step,
so an exception never falls between taking it and the block that gives it back.

In a graphical Houdini a job on the main thread runs inside a `hou.InterruptableOperation` named after it
and its client: its progress in the status line, which `progress()` moves. Houdini hears the artist's Esc
only when asked: by `progress()`, which then raises `hou.OperationInterrupted` in the code, as Houdini's own
updates do; by hrpyc every esc_watch.CHECK_EVERY s between two bytecodes of the code (see
hrpyc._server.esc_watch), which stops it as a cancel does at the look after the one that first saw the Esc
(code that reports progress hears it there first, and cleans up); and when the code ends in an error,
which is then the Esc's doing (a render that saw it). Each way, the job ends cancelled, INTERRUPTED.
Inside one long C++ call, Esc stops only what looks for it (Houdini's cooks and renders do), and hrpyc's
next look comes once the call returns.

A job keeps at most MAX_OUTPUT characters its client has not read (the oldest go, and a marker says how
many).
"""

from __future__ import annotations

import ctypes
import math
import numbers
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from hrpyc._common.printable import printable
from hrpyc._houdini import houdini
from hrpyc._server import output
from hrpyc._server.esc_watch import watcher as esc_watcher
from hrpyc._server.output import Chunk
from hrpyc._wire.job_states import CANCELLED, DONE, FAILED, FINISHED, QUEUED, RUNNING

MAX_OUTPUT = 8 << 20  # characters of a job's output its client has not read that the server keeps
INTERRUPTED = "interrupted in Houdini"  # how a job the artist stopped with Esc was cancelled
Progress = Tuple[float, Optional[str]]  # (fraction done, from 0 to 1; what the job is doing, or None)


class Interrupted(BaseException):
    """Raised inside a job's code by cancel(): not an Exception, so `except Exception` lets it through."""


class JobRecord(object):
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
        self._operation: Any = None  # Houdini's InterruptableOperation the code runs in, if any (see run)
        self.progress: Optional[Progress] = None  # what the code last said with hrpyc.progress()
        self._escape_seen = False  # a look (see checkpoint) has seen the artist's Esc
        self.tag = 0  # the client's name for it (see JobTable.submit)
        self.owner = "a client"  # who submitted it, as a busy message names a client (see JobTable.submit)

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
        # Opened before the code may be interrupted and closed after (see _execute): no cancel lands in between.
        operation = houdini.open_operation("hrpyc: {} from {}".format(self.label, self.owner))
        try:
            with output.captured(self._printed):
                state, outcome = self._execute(code, operation)
        except Interrupted:
            # A cancel that landed as the code ended, before the thread was disarmed: the job is over,
            # cancelled. cancel() interrupts a job once, so nothing else can land after this.
            self._disarm(threading.get_ident())
            state, outcome = CANCELLED, None
        finally:
            if operation is not None:
                houdini.close_operation(operation)
            if leave is not None:
                leave()
        self._finish(state, outcome)

    def _execute(self, code: Any, operation: Any) -> Tuple[str, Any]:
        ident = threading.get_ident()
        if operation is not None:
            esc_watcher.watch(self)  # before cancel() may interrupt this thread: it never lands in there
        try:
            with self._lock:
                self._thread = ident  # from here cancel() may interrupt this thread
                self._operation = operation
                _running[ident] = self  # from here hrpyc.progress() on this thread reports for this job
                cancelled = bool(self.cancelled_how)  # asked while the job was starting
            if cancelled:
                return CANCELLED, None
            return DONE, code()
        except Interrupted:
            return CANCELLED, None
        except BaseException as exc:  # the code's own error, as hrpyc.run reports it (SystemExit too, as rpyc)
            if self._stopped_by_escape(exc, operation):
                return CANCELLED, None
            return FAILED, exc
        finally:
            self._disarm(ident)

    def _disarm(self, ident: int) -> None:
        """Stop cancel() from interrupting this thread, and drop an interruption not delivered yet.
        One that lands here, just after the code ended, is the one cancel() sent: it is dropped too."""
        while True:
            try:
                with self._lock:
                    self._thread = self._operation = None
                    _running.pop(ident, None)
                    esc_watcher.unwatch(self)
                    _interrupt(ident, None)
                return
            except Interrupted:
                continue

    def report(self, fraction: float, message: Optional[str]) -> None:
        """hrpyc.progress() on the job's thread: keep it for the client, show it in Houdini (which raises
        hou.OperationInterrupted once the artist has pressed Esc)."""
        self.progress = (fraction, message)  # one step: a poll reads the whole pair or the one before
        operation = self._operation
        if operation is not None:
            houdini.report_progress(operation, fraction, message)

    def checkpoint(self) -> None:
        """On the job's thread, between two bytecodes of its code (see hrpyc._server.esc_watch): Interrupted if the
        artist pressed Esc in Houdini before the last look. The look that first sees it lets the code go
        on, so that code that reports progress hears it at its next hrpyc.progress(), as Houdini's
        hou.OperationInterrupted, and cleans up; code that reports none is stopped at the next look."""
        operation = self._operation
        if operation is None or self._thread != threading.get_ident() or not houdini.was_interrupted(operation):
            return
        if not self._escape_seen:
            self._escape_seen = True
        elif self._interrupted_in_houdini():
            raise Interrupted

    def _stopped_by_escape(self, error: BaseException, operation: Any) -> bool:
        """Whether the code ended because the artist pressed Esc: it let hou.OperationInterrupted through,
        or failed in an operation Houdini says was interrupted (a render that saw Esc fails in its own
        words). The job is then cancelled (INTERRUPTED, unless its client cancelled it first)."""
        if houdini.is_interrupt(error) or (operation is not None and houdini.was_interrupted(operation)):
            self._interrupted_in_houdini()
            return True
        return False

    def _interrupted_in_houdini(self) -> bool:
        """The artist pressed Esc: the job ends cancelled, INTERRUPTED; False if it was cancelled already."""
        with self._lock:
            if self.cancelled_how:
                return False  # its interruption is on its way, or the code ended after it
            self.cancelled_how = INTERRUPTED
            return True

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


_running: Dict[int, JobRecord] = {}  # thread ident -> the job whose code runs there (see hrpyc.progress)


def progress(fraction: float, message: Optional[str] = None) -> None:
    """In a job's code: say how far it is - `fraction` done, from 0 to 1, and what it is doing. The job's
    client reads it as `Job.progress`; in a graphical Houdini it shows in the status line, by the job's
    name, and raises `hou.OperationInterrupted` once the artist has pressed Esc (the job then ends cancelled,
    unless the code catches it). A fraction beyond 0 to 1 is taken as the nearer end; the message is
    kept to one line of 200 characters. Elsewhere (outside a job, in a thread the job started) nothing
    happens."""
    if not isinstance(fraction, numbers.Real):
        raise TypeError("hrpyc.progress(fraction=<{}>): give a number from 0 to 1".format(type(fraction).__name__))
    if math.isnan(fraction):
        raise ValueError("hrpyc.progress(fraction=nan): give a number from 0 to 1")
    if message is not None and not isinstance(message, str):
        raise TypeError("hrpyc.progress(message=<{}>): give a string, or None".format(type(message).__name__))
    job = _running.get(threading.get_ident())
    if job is not None:
        job.report(min(1.0, max(0.0, float(fraction))), None if message is None else printable(message))
