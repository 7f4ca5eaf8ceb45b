"""Client side: the verbs that talk to one server, `hrpyc ping` and `hrpyc shell`, and what a server is, as
the CLI describes it from its handshake."""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, List

from hrpyc._caller.connect import connect
from hrpyc._cli import shell
from hrpyc._common import config
from hrpyc._common.printable import printable, printable_error
from hrpyc.errors import HrpycError, ProtocolError

BUSY_REPORT = 1.0  # seconds of main-thread work before ping calls Houdini busy
MESSAGE = 4000  # characters of an error message shown: it may quote what a server said


def ping(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with _connect(args) as conn:
        connected = time.perf_counter() - started
        rtts: List[float] = []
        try:
            for _ in range(10):
                t0 = time.perf_counter()
                conn.ping()
                rtts.append(time.perf_counter() - t0)
        except HrpycError:
            raise
        except Exception as exc:  # rpyc's echo that came back different, or whatever a rogue server raised
            raise ProtocolError(conn.address, printable_error(exc)) from None
        what = describe(conn)
    print(
        "hrpyc: {} is alive: {}; connect {:.1f} ms, round trip {:.2f} ms (median of {})".format(
            conn.address, what, connected * 1e3, statistics.median(rtts) * 1e3, len(rtts)
        )
    )
    return 0


def run_shell(args: argparse.Namespace) -> int:
    conn = _connect(args)
    return shell.run(conn, about=describe(conn))


def _connect(args: argparse.Namespace) -> Any:
    """The connection `ping` and `shell` ask for with HOST:PORT, --timeout, --token, --cafile and
    --allow-other-users."""
    timeout = None if args.timeout is None else config.seconds(args.timeout, "timeout")
    return connect(
        *args.address,
        timeout=timeout,
        token=args.token,
        cafile=args.cafile,
        allow_other_users=args.allow_other_users,
    )


def describe(conn: Any) -> str:
    """What the server is, from its handshake (its fields as the client read them: escaped, `?` where
    odd), or from its modules if it is a stock server."""
    info = conn.server_info
    if not info:
        return _describe_stock(conn)
    if info.get("demo"):
        where = "a plain Python serving a demo scene, not Houdini"
    else:
        where = "Houdini {}".format(info["houdini"]) if info.get("houdini") else "plain Python"
    said = {key: info.get(key, "?") for key in ("hrpyc", "pid", "python", "rpyc", "dispatch")}
    text = "hrpyc {hrpyc} in {where} (pid {pid}), Python {python}, rpyc {rpyc}, dispatch {dispatch}".format(
        where=where, **said
    )
    try:
        busy = float(info.get("busy_for", 0))
    except ValueError:  # '?': not a number
        busy = 0.0
    if busy >= BUSY_REPORT:
        text += "; main thread busy for {:.0f} s".format(busy)
    return text


def _describe_stock(conn: Any) -> str:
    """A stock rpyc server, with the versions its modules say (any server can answer anything there)."""
    try:
        rpyc_version = ".".join(str(part) for part in conn.modules.rpyc.version.version[:3])
        versions = "rpyc {}, Python {}".format(rpyc_version, conn.modules.sys.version.split()[0])
    except HrpycError:
        raise
    except Exception:  # not rpyc's modules after all: a rogue server's answer
        versions = "versions unknown"
    return "a stock rpyc classic server ({})".format(printable(versions, 80))
