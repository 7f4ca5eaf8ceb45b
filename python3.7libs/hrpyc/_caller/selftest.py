"""Client side: the self-test the panel's Test button runs, from a separate process as every real client is:
connect, round trip, main thread, Houdini's time, bulk lane. Each step prints one JSON line as it ends
(`step`, `ok` - true, false, or null for a step that does not apply - `ms`, `detail`).

    python -m hrpyc._caller.selftest HOST PORT        (the token, if any, in HRPYC_TOKEN)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hrpyc._common import config
from hrpyc._oslayer import interpreter

STEPS = ("connect", "round trip", "main thread", "time sync", "bulk lane")
PINGS = 20
BULK = 4 << 20  # bytes each way: above the lane's inline limit, small enough for a second
STEP_TIMEOUT = 10.0  # seconds per request: a busy Houdini says so within it


def command(host: str, port: int, token: Optional[str] = None) -> Tuple[str, List[str], Dict[str, str]]:
    """(program, arguments, environment) that run the self-test against host:port in a new process.

    The environment carries `token` (HRPYC_TOKEN: never on the command line, where other users see it)
    and a PYTHONPATH that finds this hrpyc and this rpyc, so Houdini's own Python can run it."""
    import rpyc

    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # over hrpyc/_caller/
    rpyc_home = os.path.dirname(os.path.dirname(os.path.abspath(rpyc.__file__)))
    secret = {"HRPYC_TOKEN": token, "HRPYC_TOKEN_FILE": None} if token else {}
    env = config.child_environment((here, rpyc_home), **secret)
    return python_executable(), ["-m", "hrpyc._caller.selftest", host, str(port)], env


def python_executable() -> str:
    """A Python for the test's process: this one, or in Houdini the one it ships (see _oslayer.interpreter)."""
    version = "{}.{}".format(*sys.version_info[:2])
    return interpreter.for_child(sys.executable, sys.prefix, version, {"PATH": config.search_path()})


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run every step against HOST PORT; 0 when none failed."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m hrpyc._caller.selftest HOST PORT", file=sys.stderr)
        return 2
    from hrpyc._caller.connect import connect
    from hrpyc.errors import HrpycError

    started = time.perf_counter()
    try:
        conn = connect(args[0], int(args[1]), timeout=STEP_TIMEOUT)
    except HrpycError as exc:
        _report("connect", False, started, str(exc))
        return 1
    info = conn.server_info
    where = "Houdini {}".format(info["houdini"]) if info.get("houdini") else "plain Python"
    _report(
        "connect",
        True,
        started,
        "hrpyc {} in {}, credential: {}".format(info.get("hrpyc", "?"), where, info.get("auth", "?")),
    )
    failed = False
    with conn:
        for step, check in (
            (STEPS[1], _round_trip),
            (STEPS[2], _main_thread),
            (STEPS[3], _time_sync),
            (STEPS[4], _bulk),
        ):
            started = time.perf_counter()
            try:
                ok, detail = check(conn)
            except Exception as exc:  # one step failing says why and lets the others run
                ok, detail = False, "{}: {}".format(type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            failed = failed or ok is False
            _report(step, ok, started, detail)
    return 1 if failed else 0


def _report(step: str, ok: Optional[bool], started: float, detail: str) -> None:
    ms = (time.perf_counter() - started) * 1e3
    print(json.dumps({"step": step, "ok": ok, "ms": round(ms, 1), "detail": detail}), flush=True)


def _round_trip(conn: Any) -> Tuple[Optional[bool], str]:
    times = []
    for _ in range(PINGS):
        started = time.perf_counter()
        conn.ping()
        times.append(time.perf_counter() - started)
    return True, "median {:.2f} ms over {} pings".format(statistics.median(times) * 1e3, PINGS)


def _main_thread(conn: Any) -> Tuple[Optional[bool], str]:
    from hrpyc._caller.job import run

    dispatch = conn.server_info.get("dispatch", "?")
    on_main = run(conn, _runs_on_main_thread)
    if dispatch == "thread":
        return not on_main, "requests run on connection threads (dispatch: thread)"
    if on_main:
        return True, "requests run on the main thread (dispatch: {})".format(dispatch)
    return False, "dispatch {} should run requests on the main thread, but they ran on another".format(dispatch)


def _time_sync(conn: Any) -> Tuple[Optional[bool], str]:
    from hrpyc._caller.job import run

    frame = run(conn, _set_frame, None)
    if frame is None:
        return None, "no Houdini time to keep: the server has no hou (or no hou.setFrame)"
    try:
        run(conn, _set_frame, frame + 1)
        seen = run(conn, _set_frame, None)
    finally:
        run(conn, _set_frame, frame)  # the user's frame back
    if seen != frame + 1:
        return False, "a frame set by one request was {} in the next, not {}".format(seen, frame + 1)
    return True, "a frame set by one request is the next one's (frame {:g}, then put back)".format(frame + 1)


def _bulk(conn: Any) -> Tuple[Optional[bool], str]:
    from hrpyc._caller.job import run

    if not getattr(conn, "lane_key", b""):
        return None, "this server offers no bulk lane (TLS without a token)"
    data = os.urandom(BULK)
    started = time.perf_counter()
    back = run(conn, _echo, data)
    seconds = time.perf_counter() - started
    if bytes(back) != data:
        return False, "{} MB went there and came back changed".format(BULK >> 20)
    return True, "{} MB there and back at {:.0f} MB/s".format(BULK >> 20, 2 * BULK / 1e6 / max(seconds, 1e-9))


# Run on the server by hrpyc.run (sent as source): each imports what it uses.


def _runs_on_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _set_frame(frame: Optional[float]) -> Optional[float]:
    """Set Houdini's frame when `frame` is given; Houdini's frame now, or None without hou."""
    try:
        import hou
    except ImportError:
        return None
    if not hasattr(hou, "setFrame"):
        return None
    if frame is not None:
        hou.setFrame(frame)
    return float(hou.frame())


def _echo(data: bytes) -> bytes:
    return data


if __name__ == "__main__":
    sys.exit(main())
