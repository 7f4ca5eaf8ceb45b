"""Client side: jobs - code run on the server that the caller can watch, wait for and cancel
(`hrpyc.submit`, `hrpyc.Job`; `hrpyc.run` is a job waited for), and one undo step (`hrpyc.undo_group`).

A job's state, output and progress come back by polling: each poll waits on the server until the job
prints or ends (at most POLL_WAIT), so output arrives a round trip after it was printed, progress with the
next poll, and an idle wait costs five requests a second.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import itertools
import marshal
import platform
import sys
import textwrap
import threading
import time
from importlib.util import MAGIC_NUMBER
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

from hrpyc._caller.fastpath import service_of
from hrpyc._common.printable import printable
from hrpyc._wire import lane, plain
from hrpyc._wire.job_states import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, STATES
from hrpyc._wire.rpyc_versions import BYTECODE_CAPABILITY
from hrpyc.errors import CancelledError, HrpycError, JobTimeoutError, ProtocolError

__all__ = ["Job", "run", "submit", "undo_group"]

STREAMS = ("stdout", "stderr")
# Seconds one poll may wait on the server for the job to print or end. Also how long Ctrl-C may take to
# be noticed: a signal that reaches another thread of this process wakes the main thread only then.
POLL_WAIT = 0.2
FIRST_WAIT = 0.5  # ... and hrpyc.run's submit: a quick job is done in one round trip (submit waits none)


Progress = Tuple[float, Optional[str]]


class Job(object):
    """A job on the server (see `submit`): `state` is one of 'queued', 'running', 'done', 'failed',
    'cancelled'; `output` what its code has printed so far (stdout and stderr, in order); `progress` what
    it last said with hrpyc.progress(), `(fraction, message)`, or None."""

    def __init__(self, connection: Any, job_id: int, name: str, echo: bool = False, tag: int = 0) -> None:
        self.id, self.name, self._tag = job_id, name, tag
        self._conn, self._service = connection, connection.root
        self._echo = echo  # write what it prints to our own sys.stdout / sys.stderr as it comes (hrpyc.run)
        self._lock = threading.RLock()
        self._state = QUEUED
        self._chunks: List[Tuple[str, str]] = []
        self._progress: Optional[Progress] = None
        self._ask: Any = None  # the server's poll: hrpyc_job_news, or hrpyc_job_poll where it has no progress
        self._outcome: Any = None
        self._value: Any = None
        self._error: Optional[BaseException] = None
        self._taken = False

    def __repr__(self) -> str:
        return "<hrpyc.Job {} {!r} {}>".format(self.id, self.name, self._state)

    @property
    def state(self) -> str:
        self._poll(0)
        return self._state

    @property
    def output(self) -> str:
        self._poll(0)
        with self._lock:
            return "".join(text for _, text in self._chunks)

    @property
    def progress(self) -> Optional[Progress]:
        """`(fraction, message)`: how far the job's code said it is with hrpyc.progress() - a fraction from
        0 to 1, and what it is doing or None; None before it says (and always, from an hrpyc server older
        than progress)."""
        self._poll(0)
        return self._progress

    def done(self) -> bool:
        """Whether the job has ended: done, failed or cancelled."""
        return self.state in FINISHED

    def result(self, timeout: Optional[float] = None) -> Any:
        """The job's plain-data result, once it ends, as hrpyc.run returns it; the code's error as
        hrpyc.run raises it; CancelledError if it was cancelled; JobTimeoutError if `timeout` seconds
        pass first (the job goes on). Not bound by the connection's request timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._state not in FINISHED:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise JobTimeoutError(self._label(), self._conn.address, timeout or 0, self._state)
            self._poll(POLL_WAIT if left is None else min(POLL_WAIT, left))
        return self._take()

    def cancel(self) -> bool:
        """Drop the job if still queued, or stop its Python code at its next bytecode if running (inside
        a long C++ call - a cook, a render - once that returns); False if it had already ended."""
        if self._state in FINISHED:
            return False
        with self._lock:
            state = self._service.hrpyc_job_cancel(self.id)
        return state in (QUEUED, RUNNING, CANCELLED)

    def cancel_pending(self) -> bool:
        """Cancel the job by its tag, its id not known yet (see _Interrupted); False if the submit never
        reached the server (there is no job)."""
        self.id = int(self._service.hrpyc_job_cancel_tagged(self._tag))
        return bool(self.id)

    def _label(self) -> str:
        return "job {} {!r}".format(self.id, self.name)

    def _poll(self, wait: float) -> None:
        with self._lock:
            if self._state not in FINISHED:
                if self._ask is None:
                    self._ask = getattr(self._service, "hrpyc_job_news", None) or self._service.hrpyc_job_poll
                self._update(self._ask(self.id, len(self._chunks), wait))

    def _update(self, answer: Any) -> None:
        """Take in what the server said: (state, new output chunks, outcome), and the progress where it
        says it (hrpyc_job_news); never trust its shape."""
        try:
            state, chunks, outcome, *news = answer
            chunks = [(str(stream), str(text)) for stream, text in chunks]
            if state not in STATES or any(stream not in STREAMS for stream, _ in chunks):
                raise ValueError("unknown job state or stream")
            if news:  # what a later server adds beyond the progress is not read
                self._progress = _progress(news[0])
        except (TypeError, ValueError) as exc:
            raise ProtocolError(self._conn.address, "its answer about a job is not one: {}".format(exc)) from None
        self._chunks.extend(chunks)
        if self._echo:
            for stream, text in chunks:
                getattr(sys, stream).write(text)
                getattr(sys, stream).flush()
        self._state, self._outcome = str(state), outcome

    def _take(self) -> Any:
        """The outcome of an ended job, fetched from the server once (a result's buffer is read once)."""
        with self._lock:
            if not self._taken:
                self._taken = True
                try:
                    self._value = self._fetch()
                except Exception as exc:
                    self._error = exc
            if self._error is not None:  # its traceback from here, not from our fetching of it
                raise self._error.with_traceback(None) from self._error.__cause__
            return self._value

    def _fetch(self) -> Any:
        if self._state == CANCELLED:
            raise CancelledError(self._label(), self._conn.address, printable(self._outcome or "cancelled"))
        if self._state == FAILED:
            self._service.hrpyc_job_result(self.id)  # raises the code's error, as hrpyc.run does
            raise ProtocolError(self._conn.address, "it said a job failed, then gave no error")
        return _unpack(self._conn, self._outcome)


def _progress(said: Any) -> Optional[Progress]:
    """A server's (fraction, message), bounded: a fraction from 0 to 1, a printable line or None."""
    if said is None:
        return None
    if type(said) is not tuple or len(said) != 2 or type(said[0]) is not float:
        raise ValueError("its progress is not a (fraction, message) pair")
    fraction, message = said
    return min(1.0, max(0.0, fraction)), None if message is None else printable(message)


def submit(connection: Any, code: Union[str, Callable[..., Any]], *args: Any, **kwargs: Any) -> Job:
    """Start `code` on the server as a job and return its Job as soon as the server has it (one round
    trip; see hrpyc.run for what `code` and its arguments may be). It runs where a request runs (on
    Houdini's main thread in a graphical session), is not bound by the connection's request timeout, and
    is cancelled if this connection closes (or Ctrl-C interrupts the submit itself)."""
    try:
        job, news = _start(connection, code, args, kwargs, echo=False)
    except _Interrupted as interrupted:  # Ctrl-C before the server said which job it started
        pending = interrupted.job
    else:
        job._update(news)
        return job
    pending.cancel_pending()  # here, not in the handler: KeyboardInterrupt alone, no chain
    raise KeyboardInterrupt


def run(connection: Any, code: Union[str, Callable[..., Any]], *args: Any, **kwargs: Any) -> Any:
    """Run `code` on the server and return plain data (numbers, strings, bytes, lists, tuples, dicts,
    sets, None), or a numpy array (read-only; bytes when this Python has no numpy): `submit(...).result()`,
    with what the code prints written to this process's sys.stdout / sys.stderr as it comes, and
    Ctrl-C cancelling it (CancelledError).

    `code` is a function called with `args` and `kwargs`, which must be plain data too; or a code block
    whose variable `result` is returned. A function is sent as its source, so it must be self-contained
    (imports inside it); one typed at a prompt or run by a script editor has none, and is sent compiled
    instead, to a server on the same Python version (else a one-line error says what to pass instead).
    Bytes-like arguments and results travel as raw buffers, by the bulk lane when large: at any depth with
    a server of this hrpyc or later, else at the top level only.
    """
    try:
        started = _start(connection, code, args, kwargs, echo=True)
    except _Interrupted as interrupted:  # Ctrl-C before the server said which job it started
        job = interrupted.job
        if not job.cancel_pending():
            raise KeyboardInterrupt from None  # it never reached the server: nothing ran
    else:
        if started is None:  # an hrpyc server older than jobs
            return _run_in_one_request(connection, code, args, kwargs)
        job, news = started
        try:
            job._update(news)
            return job.result()
        except KeyboardInterrupt:
            job.cancel()
    return job.result()  # here, not in a handler: CancelledError alone (unless the job ended first)


def _start(connection: Any, code: Any, args: Any, kwargs: Any, echo: bool) -> Any:
    """Submit; (Job, the server's first news of it), or None for hrpyc.run (`echo`) on a server older than
    jobs. hrpyc.run's submit waits up to FIRST_WAIT for the job to end, submit's not at all."""
    service = service_of(connection)
    submit_call = getattr(service, "hrpyc_submit", None)
    if submit_call is None:
        if echo:
            return None
        raise HrpycError("the hrpyc server at {} is older than jobs; update hrpyc there".format(connection.address))
    source, name, args, kwargs = _code(connection, code, args, kwargs)
    at_any_depth = connection.server_info.get(plain.CAPABILITY[0]) == plain.CAPABILITY[1]
    literal, buffers = plain.pack_arguments(args, kwargs, functools.partial(lane.send, connection), at_any_depth)
    tag = next(_tags)
    progress = () if getattr(service, "hrpyc_job_news", None) is None else (True,)  # a server older than progress
    newer = {"bytes_at_any_depth": True} if at_any_depth else {}  # older servers take no such argument
    try:
        answer = submit_call(source, name, literal, buffers, FIRST_WAIT if echo else 0.0, tag, *progress, **newer)
    except KeyboardInterrupt:
        raise _Interrupted(Job(connection, 0, name or "code", echo, tag)) from None
    try:
        job_id, news = int(answer[0]), answer[1:]
        if not job_id:  # not taken: the reason comes as a cancelled job's outcome (see hrpyc_submit)
            reason = printable(str(news[2]), 300)
    except (TypeError, ValueError, IndexError):
        raise ProtocolError(connection.address, "its answer to a job is not one") from None
    if not job_id:
        raise HrpycError("{} did not take the job: {}".format(connection.address, reason))  # pyright: ignore[reportPossiblyUnboundVariable]  # set when job_id is 0
    return Job(connection, job_id, name or "code", echo), news


_tags = itertools.count(1)  # the names a client gives its jobs until it learns their ids


class _Interrupted(Exception):
    """Ctrl-C came while a submit waited for its answer: `job` knows the job only by its tag."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job


def _run_in_one_request(connection: Any, code: Any, args: Any, kwargs: Any) -> Any:
    source, name, args, kwargs = _code(connection, code, args, kwargs)
    literal, buffers = plain.pack_arguments(args, kwargs, functools.partial(lane.send, connection))
    return _unpack(connection, service_of(connection).run_code(source, name, literal, buffers))


def _unpack(connection: Any, answer: Any) -> Any:
    try:
        return plain.unpack_result(answer, functools.partial(lane.receive, connection))
    except (ValueError, SyntaxError, TypeError) as exc:  # never a crash, whatever the server sends back
        raise ProtocolError(
            getattr(connection, "address", "the server"), "its answer is not plain data: {}".format(exc)
        ) from None


def _code(connection: Any, code: Union[str, Callable[..., Any]], args: Any, kwargs: Any) -> Tuple[Any, str, Any, Any]:
    """What is sent for `code`, and the arguments to call it with: (source or compiled code, the function's
    name, args, kwargs). A code block goes as it is, a function as its source; one Python keeps no source
    of (typed at a prompt, exec'd by Maya's or Nuke's script editor, a lambda) as its compiled code,
    called with its defaults filled in here (they do not travel)."""
    if isinstance(code, str):
        return code, "", args, kwargs
    source = _source(code)
    if source is not None:
        return source, code.__name__, args, kwargs
    bound = inspect.signature(code).bind(*args, **kwargs)  # the TypeError the call would raise, here
    bound.apply_defaults()
    return _compiled(connection, code), code.__name__, bound.args, bound.kwargs


def _source(code: Callable[..., Any]) -> Optional[str]:
    """Where Python keeps a function's source (its file, an IPython cell, linecache), that; else None.
    What it finds must define that function: code exec'd from a string is "<string>" to Python, and so
    is, from 3.13, the script of `python -c` (a lambda's source is the line it sits in)."""
    try:
        source = textwrap.dedent(inspect.getsource(code))
    except OSError:  # "could not get source code"
        if inspect.isfunction(code):
            return None
        raise
    if not inspect.isfunction(code):
        return source
    try:
        first = ast.parse(source).body[0]
    except (SyntaxError, IndexError):
        return None
    defines = isinstance(first, (ast.FunctionDef, ast.AsyncFunctionDef)) and first.name == code.__name__
    return source if defines else None


def _compiled(connection: Any, function: Any) -> bytes:
    """`function`'s code, marshalled behind its Python's bytecode magic number (see
    hrpyc._server.job_code.compiled), for a server whose bytecode is this Python's; one line naming what to
    do instead for any other."""
    refused = "cannot send the function {!r} to {}: ".format(function.__name__, connection.address)
    if function.__code__.co_freevars:
        raise HrpycError(
            refused
            + "it uses variables of the function it is defined in ({}); pass them as arguments, or pass "
            "the code as a string".format(", ".join(function.__code__.co_freevars))
        )
    if connection.server_info.get(BYTECODE_CAPABILITY[0]) != BYTECODE_CAPABILITY[1]:
        raise HrpycError(
            refused
            + "Python has no source for it (typed at a prompt, or run by a script editor), and its "
            "compiled code runs only on an hrpyc server as new as this client, on the same Python version (this "
            "Python {}, the server's {}); pass the code as a string, or define the function in a module "
            "file".format(platform.python_version(), connection.server_info.get("python", "?"))
        )
    return MAGIC_NUMBER + marshal.dumps(function.__code__)


@contextlib.contextmanager
def undo_group(connection: Any, label: str) -> Iterator[None]:
    """Make everything this connection does in the block - proxy calls, run, jobs - one step named
    `label` in Houdini's undo history. The group closes at the end of the block, after the jobs
    submitted in it, and also if this client goes away first. Where Houdini keeps no undo history
    (hython), nothing happens. While it is open, anything else done in Houdini - the user's own edits
    in its UI, other clients' requests - joins the same step: keep the block short."""
    service = service_of(connection)
    service.hrpyc_undo_open(str(label))
    try:
        yield
    finally:
        if not connection.closed:
            service.hrpyc_undo_close()
