"""Client side: `hrpyc sessions`: this user's sessions on this machine (with `--clients`, who is connected
to each), or the servers a registry knows, each asked what it is."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, List, Sequence

from hrpyc._caller.connect import connect
from hrpyc._cli.remote import MESSAGE, describe
from hrpyc._common import discovery, sessions
from hrpyc._common.address import dialable, format_address
from hrpyc._common.identity import STOCK
from hrpyc._common.printable import printable, printable_error
from hrpyc._wire import client_info as clients
from hrpyc.errors import HrpycError

REGISTERED_ROW = "{:<22} {}"
NO_SESSION = "hrpyc: no hrpyc session of this user runs on this machine"


def run(args: argparse.Namespace) -> int:
    if args.clients:
        return _session_clients(args)
    if args.registry is None:
        return _here()
    found, odd = discovery.registered(args.registry or None)
    if found:
        print(REGISTERED_ROW.format("ADDRESS", "SERVER"))
    for host, port in found:
        try:
            # Anyone may register an address: only a token given to this very command is shown to it.
            with connect(host, port, timeout=3, token=args.token or "") as conn:
                what = describe(conn)
        except HrpycError as exc:
            what = "does not answer: {}".format(printable(str(exc), MESSAGE))
        except Exception as exc:  # whatever a peer on that port sends back: one line, then the next server
            what = "answered oddly: {}".format(printable_error(exc))
        print(REGISTERED_ROW.format(format_address(host, port), what))
    if odd:
        print("hrpyc: the registry holds {} entries that are not an address and port; they are left out".format(odd))
    elif not found:
        print("hrpyc: the registry knows no hrpyc session")
    return 0


def _here() -> int:
    """`hrpyc sessions`: this user's session records on this machine, one row each."""
    live = sessions.live()
    rows = [("ADDRESS", "PROCESS", "RUNS IN", "USER", "CREDENTIAL", "DISPATCH", "SINCE", "SCENE")] + [
        (
            format_address(printable(record.get("host", "?"), 64), record["port"]),
            "pid {}".format(record["pid"]),
            discovery.runs_in(record),
            printable(record.get("user", ""), 64),
            printable(record.get("auth", "?"), 20),
            printable(record.get("dispatch", "?"), 20),
            _when(record.get("started"), "%Y-%m-%d %H:%M"),
            printable(record.get("scene", "")),
        )
        for record in live
    ]
    for line in _aligned(rows) if live else []:
        print(line)
    if not live:
        print(NO_SESSION)
    return 0


def _session_clients(args: argparse.Namespace) -> int:
    """`hrpyc sessions --clients`: each local session, then who is connected to it (but us, who ask)."""
    if args.registry is not None:
        print("hrpyc: --clients lists this machine's sessions only; leave out --registry", file=sys.stderr)
        return 2
    live = sessions.live()
    for record in live:
        said, port = record.get("host"), record["port"]
        host = dialable(said if type(said) is str else "")
        where = printable(format_address(host, port), 80)
        print("{}  pid {}  {}".format(where, record["pid"], discovery.runs_in(record)))
        try:
            with connect(host, port, timeout=3) as conn:
                listing = getattr(conn.root, "hrpyc_clients", None)
                if listing is None:
                    print("  cannot list its clients: it runs an older hrpyc")
                    continue
                answer = listing()
                found = [clients.from_pairs(pairs) for pairs in answer[:1000]] if type(answer) is tuple else []
        except HrpycError as exc:
            print("  does not answer: {}".format(printable(str(exc), MESSAGE)))
            continue
        except Exception as exc:  # whatever a peer on that port sends back: one line, then the next session
            print("  answered oddly: {}".format(printable_error(exc)))
            continue
        for line in _clients_table(found) if found else ["no clients connected"]:
            print("  " + line)
    if not live:
        print(NO_SESSION)
    return 0


def _clients_table(found: List[clients.ClientInfo]) -> List[str]:
    """A session's clients, a row each under a header."""
    rows = [("PROGRAM", "USER@HOST", "PID", "ADDRESS", "CONNECTED SINCE")] + [
        (
            client.program or "?",
            "{}@{}".format(client.user or "?", client.host or "?") if client.who != STOCK else "-",
            str(client.pid or "-"),
            format_address(*client.address),
            _when(client.connected_at, "%Y-%m-%d %H:%M:%S"),
        )
        for client in found
    ]
    return _aligned(rows)


def _aligned(rows: Sequence[Sequence[str]]) -> List[str]:
    """Table rows as lines, each column as wide as its widest cell (the last one as it is)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]).rstrip() for row in rows]


def _when(stamp: Any, form: str) -> str:
    """A time a record or a server wrote (seconds since the epoch) as `form`, or '?'."""
    try:
        return time.strftime(form, time.localtime(stamp)) if type(stamp) in (int, float) else "?"
    except (OverflowError, OSError, ValueError):  # beyond the platform's years, NaN
        return "?"
