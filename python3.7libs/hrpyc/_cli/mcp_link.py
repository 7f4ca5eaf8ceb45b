"""Client side: what `hrpyc mcp`'s tools do, without the MCP SDK: one connection to the user's Houdini
(made as `hrpyc shell` makes it, at the first call and again after it is lost), the Houdini half of each
tool run there as a job (mcp_tools), the assistant's own jobs, and answers bounded in size as plain dicts.

Every call here blocks, and each exchange with Houdini holds one lock: the MCP server calls them from
worker threads, and a long wait (a job's end) is a row of short polls, so other tools get their turn.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from hrpyc._caller.connect import connect
from hrpyc._caller.job import Job, submit, undo_group
from hrpyc._common import png, sessions, userdir
from hrpyc._common.discovery import describe, runs_in
from hrpyc._common.printable import printable
from hrpyc._houdini import mcp_tools
from hrpyc._wire.job_states import FINISHED, QUEUED
from hrpyc._wire.rpyc_versions import rpyc_traceback
from hrpyc.errors import CancelledError, HrpycError, JobTimeoutError, MultipleSessionsError, Setting

Spell = Callable[[Setting], str]

TOOL_WAIT = 30.0  # seconds a tool waits for Houdini to run its part before it gives up (MCP clients wait ~60)
POLL = 0.25  # seconds of one wait for a job, holding the lock
REQUEST_TIMEOUT = 30.0  # seconds of one request on the connection
MAX_TEXT = 6000  # characters of a job's output or result in one answer
ERROR = 500  # characters of an error line
CAPTURES_KEPT = 50  # captures kept in the captures folder; older ones are deleted
SOURCE = inspect.getsource(mcp_tools)  # sent with each call: it works with whatever hrpyc Houdini runs
# Undo steps the assistant's changes make, one per call, named after the tool (houdini_undo undoes these only).
CHANGE_TOOLS = ("houdini_set_parms", "houdini_create_node", "houdini_connect", "houdini_delete")
_LINE = re.compile(r'File "<hrpyc\.run>", line (\d+)')


def run_shipped(source: str, name: str, args: List[Any]) -> Any:
    """In Houdini: define mcp_tools from its source, call its function `name` with `args`."""
    namespace: Dict[str, Any] = {"__name__": "hrpyc_mcp_houdini"}
    exec(compile(source, "<hrpyc mcp>", "exec"), namespace)
    return namespace[name](*args)


class ToolError(HrpycError):
    """What a tool answers with isError: one line for the assistant."""


class Link(object):
    """The MCP server's connection to one Houdini: `host`/`port` (None: this user's only session here),
    with the user's own `token` and `cafile`, as `hrpyc shell` connects; `spell` words an error's
    settings as `hrpyc mcp`'s flags."""

    def __init__(self, host: str, port: Optional[int], token: Optional[str], cafile: Optional[str], spell: Spell):
        self._host, self._port, self._token, self._cafile, self._spell = host, port, token, cafile, spell
        self._conn: Any = None
        self._lock = threading.RLock()
        self._jobs: Dict[int, Tuple[Job, float]] = {}  # the assistant's jobs on this connection: (job, started)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    def connection(self) -> Any:
        """The connection, made now if there is none or it was lost (its jobs are gone with it)."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._jobs.clear()
                try:
                    self._conn = connect(
                        self._host, self._port, timeout=REQUEST_TIMEOUT, token=self._token, cafile=self._cafile
                    )
                except MultipleSessionsError as exc:
                    raise ToolError("{}; or choose one with houdini_sessions(use=PORT)".format(self.error(exc)))
            return self._conn

    def error(self, exc: BaseException, code: bool = False) -> str:
        """Any error as the one line an assistant reads: ours in `hrpyc mcp`'s words; one raised in Houdini
        as its type and message, without the traceback (and, raised by the assistant's `code`, the line)."""
        text = exc.worded(self._spell) if isinstance(exc, HrpycError) else _houdini_error_line(exc, code)
        if isinstance(exc, (ConnectionError, EOFError)) and self._conn is not None and self._conn.closed:
            text += " - the next call connects again"
        return printable(" ".join(text.split()), ERROR)

    # -- the tools' Houdini halves

    def call(self, tool: str, function: Callable[..., Any], *args: Any) -> Any:
        """Run mcp_tools's `function` in Houdini, as a job; its answer, or ToolError (one line) if it
        fails or Houdini does not get to it within TOOL_WAIT (then it is cancelled)."""
        with self._lock:
            job = submit(self.connection(), run_shipped, SOURCE, function.__name__, list(args))
        deadline = time.monotonic() + TOOL_WAIT
        while True:
            try:
                with self._lock:
                    return job.result(timeout=POLL)
            except JobTimeoutError:
                if time.monotonic() > deadline:
                    raise ToolError(self._busy(tool, job)) from None
            except Exception as exc:
                raise ToolError(self.error(exc)) from None

    def _busy(self, tool: str, job: Job) -> str:
        with self._lock:
            started = job.state != QUEUED
            job.cancel()
            ours = [str(j.id) for j, _ in self._jobs.values() if j is not job and j.state not in FINISHED]
        what = "it was stopped part way" if started else "it was dropped before it ran"
        holder = " (the assistant's job {} is running: houdini_cancel stops it)".format(", ".join(ours)) if ours else ""
        return "Houdini did not finish {} within {:g} s: its main thread is busy{}; {}".format(
            tool, TOOL_WAIT, holder or " (a cook, a render, a modal dialog?)", what
        )

    def change(self, tool: str, function: Callable[..., Any], *args: Any) -> Any:
        """`call`, as one step of Houdini's undo history named after the tool."""
        with self._lock:
            group = undo_group(self.connection(), tool)
            group.__enter__()
        try:
            return self.call(tool, function, *args)
        finally:
            with self._lock:
                group.__exit__(None, None, None)

    def capture(self, width: int, height: int) -> Tuple[str, bytes, float]:
        """(local path, PNG bytes, frame) of the viewport, checked: ToolError when it shows nothing."""
        frame = self.call("houdini_capture", mcp_tools.frame)
        data = self.call("houdini_capture", mcp_tools.capture, width, height)
        if not isinstance(data, bytes):
            raise ToolError("Houdini's capture came back as {}, not a PNG".format(type(data).__name__))
        why = png.blank(data)
        if why is not None:
            raise ToolError(
                "the capture shows nothing - {}: Houdini's viewport drew no picture (a minimised or hidden "
                "window?); not saved".format(why)
            )
        return _keep_capture(data, frame), data, frame

    # -- the assistant's jobs

    def start(self, code: str) -> Job:
        with self._lock:
            job = submit(self.connection(), code)
            self._jobs[job.id] = (job, time.monotonic())
        return job

    def job(self, job_id: int) -> Job:
        with self._lock:
            found = self._jobs.get(job_id)
        if found is None:
            raise ToolError(
                "no job {} here: hrpyc mcp knows the jobs it started since it connected (a lost connection "
                "ends its jobs)".format(job_id)
            )
        return found[0]

    def wait(self, job: Job, seconds: float) -> bool:
        """Wait up to `seconds` for `job` to end (one poll at least); whether it ended."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                with self._lock:
                    job.result(timeout=max(0.01, min(POLL, deadline - time.monotonic())))
                return True
            except JobTimeoutError:
                if time.monotonic() >= deadline:
                    return False
            except HrpycError as exc:
                if not isinstance(exc, CancelledError):
                    raise ToolError(self.error(exc)) from None
                return True
            except Exception:  # the code's own error: the job ended, failed
                return True

    def progress(self, job: Job) -> Any:
        """What the job last said of its progress (hrpyc.progress): (fraction, message), or None."""
        with self._lock:
            return getattr(job, "progress", None)  # None too from an hrpyc whose jobs do not report it

    def report(self, job: Job, output_from: Optional[int] = None) -> Dict[str, Any]:
        """What an assistant sees of a job: state, seconds, progress, output (its tail, or from
        `output_from`), and its result or error once it ended."""
        with self._lock:
            state, output = job.state, job.output
            progress = self.progress(job)
            started = self._jobs.get(job.id, (job, time.monotonic()))[1]
        answer: Dict[str, Any] = {"job": job.id, "state": state, "seconds": round(time.monotonic() - started, 1)}
        if progress is not None:
            answer["progress"] = list(progress)
        answer.update(_output(output, output_from))
        if state in FINISHED:
            try:
                with self._lock:
                    value = job.result(timeout=0)
                answer["result"], cut = _plain(value)
                if cut:
                    answer["result_note"] = cut
            except HrpycError as exc:
                if not isinstance(exc, CancelledError):
                    raise ToolError(self.error(exc)) from None
                answer["error"] = self.error(exc)
            except Exception as exc:  # the code's own error
                answer["error"] = self.error(exc, code=True)
        else:
            answer["note"] = "still running: houdini_job(job={0}) follows it, houdini_cancel(job={0}) stops it".format(
                job.id
            )
        return answer

    def cancel(self, job: Job) -> Dict[str, Any]:
        with self._lock:
            job.cancel()
        self.wait(job, 5.0)
        return self.report(job)

    # -- sessions

    def sessions(self, use: Optional[int]) -> Dict[str, Any]:
        """This user's sessions on this machine, and which one the tools use; `use` switches to one."""
        live = sessions.live()
        if use is not None:
            if not any(record["port"] == use for record in live):
                raise ToolError("no session of this user listens on port {} here: {}".format(use, _ports(live)))
            with self._lock:
                self.close()
                self._host, self._port = "127.0.0.1", use
        with self._lock:
            current = self._conn.address if self._conn is not None and not self._conn.closed else None
        answer: Dict[str, Any] = {"sessions": [_session(record) for record in live[:50]], "connected_to": current}
        if self._port is not None:
            answer["uses"] = "{}:{}".format(self._host, self._port)
        if not live:
            answer["note"] = "no hrpyc session of this user runs on this machine: start Houdini with hrpyc serving"
        return answer


def _houdini_error_line(exc: BaseException, code: bool) -> str:
    """An error raised in Houdini as its type and first line; raised by the assistant's `code`, with the line."""
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    text = "{}: {}".format(type(exc).__name__, message.strip().splitlines()[0] if message.strip() else "")
    found = _LINE.findall(rpyc_traceback(exc) or "") if code else None
    if found:
        text += " (line {} of the code)".format(found[-1])
    return text


def _session(record: sessions.Record) -> Dict[str, Any]:
    """A session record as houdini_sessions shows it: what tells one Houdini from another, escaped."""
    return {
        "port": record["port"],
        "pid": record["pid"],
        "runs_in": runs_in(record),
        "scene": printable(record.get("scene") or "", 300) or None,
        "dispatch": printable(record.get("dispatch", "?"), 20),
        "credential": printable(record.get("auth", "?"), 20),
    }


def _ports(live: List[sessions.Record]) -> str:
    return "; ".join(describe(record) for record in live) or "none runs"


def _output(text: str, start: Optional[int]) -> Dict[str, Any]:
    """A job's output, bounded: from `start` if given, else its tail."""
    first = max(0, len(text) - MAX_TEXT) if start is None else max(0, min(start, len(text)))
    shown = text[first : first + MAX_TEXT]
    answer: Dict[str, Any] = {"output": shown}
    if first or first + len(shown) < len(text):
        answer["output_note"] = "characters {} to {} of {}; output_from reads another part".format(
            first, first + len(shown), len(text)
        )
    return answer


def _plain(value: Any) -> Tuple[Any, Optional[str]]:
    """A job's result as JSON can carry it, and what was cut: as JSON when it fits MAX_TEXT, else as
    the start of its text."""
    try:
        text = json.dumps(value, default=_jsonable, ensure_ascii=False)
    except (TypeError, ValueError):  # keys JSON has no form for (tuples), NaN...
        text = None
    if text is not None and len(text) <= MAX_TEXT:
        return json.loads(text), None
    text = repr(value)
    if len(text) <= MAX_TEXT:
        return text, None
    return text[:MAX_TEXT], "cut: the first {} of {} characters of its repr()".format(MAX_TEXT, len(text))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return "<{} bytes>".format(len(value))
    if hasattr(value, "tolist"):  # a numpy array
        return value.tolist()
    raise TypeError


def _keep_capture(data: bytes, frame: float) -> str:
    """Write a capture into this user's captures folder, keeping the newest CAPTURES_KEPT; its path."""
    folder = userdir.private_folder(os.path.join(userdir.checked_state_dir(), "captures"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(folder, "capture-{}-{:03d}-frame{:g}.png".format(stamp, int(time.time() * 1000) % 1000, frame))
    with open(path, "wb") as handle:
        handle.write(data)
    kept = sorted(name for name in os.listdir(folder) if name.startswith("capture-") and name.endswith(".png"))
    for name in kept[:-CAPTURES_KEPT]:
        os.remove(os.path.join(folder, name))
    return path
