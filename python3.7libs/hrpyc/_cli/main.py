"""Both sides: `hrpyc` on the command line: serve, ping, shell."""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import sys
import time
from typing import Any, List, Optional, Sequence, Tuple

from hrpyc._caller.connect import connect
from hrpyc._cli import install, interrupts, shell
from hrpyc._common import config, discovery, sessions
from hrpyc._common.address import format_address, parse_address, parse_port, server_and_port
from hrpyc._common.config import DEFAULT_HOST, DEFAULT_PORT, DISPATCH_MODES
from hrpyc._common.identity import STOCK
from hrpyc._common.printable import printable, printable_error
from hrpyc._common.version import __version__
from hrpyc._houdini import hou_module as houdini
from hrpyc._oslayer import console
from hrpyc._server.lifecycle import start_first_free
from hrpyc._wire import client_info as clients
from hrpyc._wire.rpyc_versions import RPYC_VERSION_STRING
from hrpyc.errors import PORT_RANGE, HrpycError, ProtocolError, Setting

BUSY_REPORT = 1.0  # seconds of main-thread work before ping calls Houdini busy
MESSAGE = 4000  # characters of an error message shown: it may quote what a server said
DEMO_LABEL = "hrpyc (demo, not Houdini)"  # what starts every line `hrpyc serve --demo` prints


# The settings the CLI takes as flags: an error naming one (errors.Setting) names the flag, `--port 0`.
FLAGS = {
    "host",
    "port",
    "dispatch",
    "token",
    "certfile",
    "keyfile",
    "cafile",
    "allow_insecure",
    "allow_other_users",
    "timeout",
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    console.never_unencodable()  # a scene name in Japanese on a cp1252 console is printed, escaped
    console.break_interrupts()  # Windows' Ctrl-Break stops `hrpyc serve` as cleanly as Ctrl-C
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # bare `hrpyc`: what it can do
        parser.print_help()
        return 0
    args, extra = parser.parse_known_args(argv)
    if args.verb == "install":
        args.rest = extra  # the installer's own options
    elif extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    if args.verb in ("ping", "shell"):
        try:  # HOST[:PORT] and --port: the port given once
            args.address = server_and_port(args.address, args.port)
        except ValueError as exc:
            parser.error(str(exc).replace("server=", "HOST:PORT ").replace("port=", "--port "))
    try:
        return args.run(args)
    except HrpycError as exc:
        label = DEMO_LABEL if getattr(args, "demo", False) else "hrpyc"
        message = exc.worded(lambda setting: flag(setting, args.verb))
        print("{}: {}".format(label, printable(message, MESSAGE)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the shell shows ^C; no traceback (see hrpyc._cli.interrupts)
        return interrupts.STATUS


def flag(setting: Setting, verb: str) -> str:
    """A setting an error names, as this CLI's `verb` takes it: `--port 0 or --port 18811-18820` (serve
    takes a range), `--allow-insecure`, `--token`."""
    if setting.name not in FLAGS:
        return str(setting)  # a setting of the server's code, such as max_clients=
    name = "--" + setting.name.replace("_", "-")
    if setting.value is None or setting.value is True:
        return name
    ranged = " or {} {}".format(name, setting.or_range) if setting.or_range and verb == "serve" else ""
    return "{} {}{}".format(name, setting.value, ranged)


def version() -> str:
    """`hrpyc --version`: ours, and the Python and rpyc it runs with (what a bug report needs)."""
    return "hrpyc {} (Python {}, rpyc {})".format(__version__, sys.version.split()[0], RPYC_VERSION_STRING)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrpyc", description="Drive a running Houdini from any Python.")
    parser.add_argument("--version", action="version", version=version())
    verbs = parser.add_subparsers(dest="verb", metavar="{serve,ping,shell,sessions,panel,install,mcp}")
    verbs.required = True

    serve = verbs.add_parser("serve", help="serve this Python (hython: this Houdini) until Ctrl-C")
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    serve.add_argument(
        "--port",
        type=_ports,
        default=None,
        metavar="PORT",
        help="a port, 0 for a free one, or a range taking the first free one: {} (default: HRPYC_PORT, else {})".format(
            PORT_RANGE, DEFAULT_PORT
        ),
    )
    serve.add_argument("--dispatch", choices=DISPATCH_MODES, default=None, help="where requests run (default: auto)")
    serve.add_argument("--token", default=None, help="a token clients must show, or 'auto' (default: HRPYC_TOKEN)")
    serve.add_argument("--certfile", default=None, help="serve over TLS with this certificate (HRPYC_TLS_CERT)")
    serve.add_argument("--keyfile", default=None, help="the certificate's key (HRPYC_TLS_KEY)")
    serve.add_argument("--cafile", default=None, help="require client certificates it signed (HRPYC_TLS_CA)")
    serve.add_argument(
        "--allow-insecure", action="store_true", default=None, help="listen beyond loopback with no credential"
    )
    serve.add_argument(
        "--allow-other-users",
        action="store_true",
        default=None,
        help="let other users' processes on this machine in, with the credential asked for (HRPYC_ALLOW_OTHER_USERS)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log clients coming and going")
    serve.add_argument(
        "--demo", action="store_true", help="serve a small demo scene as `hou` (not Houdini): try hrpyc without Houdini"
    )
    serve.set_defaults(run=_serve)

    listing = verbs.add_parser("sessions", help="list this user's hrpyc sessions here, or a registry's")
    listing.add_argument(
        "--registry",
        nargs="?",
        const="",
        default=None,
        metavar="HOST[:PORT]",
        help="ask rpyc's registry (udp://, tcp://; default: HRPYC_REGISTRY) instead",
    )
    listing.add_argument(
        "--clients", action="store_true", help="list each local session's connected clients (asks each session)"
    )
    listing.add_argument(
        "--token",
        default=None,
        help="the token to show the registry's servers (HRPYC_TOKEN is not offered to what a registry names)",
    )
    listing.set_defaults(run=_sessions)

    panel = verbs.add_parser("panel", help="open the hrpyc panel, serving this Python")
    panel.set_defaults(run=_panel)

    install = verbs.add_parser(
        "install", help="install hrpyc as a Houdini package for this user (--help for more)", add_help=False
    )
    install.set_defaults(run=_install)

    mcp = verbs.add_parser("mcp", help="serve Houdini's tools to an AI assistant (MCP over stdio; hrpyc[mcp])")
    mcp.add_argument("--host", default=DEFAULT_HOST, help="where Houdini serves (default %(default)s)")
    mcp.add_argument("--port", type=_port, default=None, help="default: this user's only local session, else 18811")
    mcp.add_argument("--token", default=None, help="the server's token (default: HRPYC_TOKEN, or this user's own)")
    mcp.add_argument("--cafile", default=None, help="connect over TLS, trusting this CA (HRPYC_TLS_CA)")
    mcp.add_argument("--read-only", action="store_true", help="offer only the tools that change nothing")
    mcp.set_defaults(run=_mcp)

    for name, run, text in (
        ("ping", _ping, "say whether a server answers, how fast, and what it is"),
        ("shell", _shell, "an interactive prompt where `hou` is the server's"),
    ):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument(
            "address",
            nargs="?",
            type=_address,
            default=DEFAULT_HOST,
            metavar="HOST[:PORT]",
            help="default: this user's only local session, else {}".format(format_address(DEFAULT_HOST, DEFAULT_PORT)),
        )
        verb.add_argument("--port", type=_port, default=None, help="the port, if HOST[:PORT] does not say it")
        verb.add_argument(
            "--timeout", default=None, help="seconds per request, 0 for no limit (default: HRPYC_TIMEOUT, 30)"
        )
        verb.add_argument("--token", default=None, help="the server's token (default: HRPYC_TOKEN)")
        verb.add_argument("--cafile", default=None, help="connect over TLS, trusting this CA (HRPYC_TLS_CA)")
        verb.add_argument(
            "--allow-other-users",
            action="store_true",
            help="go on when the server on this machine belongs to another user (a colleague's, on purpose)",
        )
        verb.set_defaults(run=run)
    return parser


def _address(text: str) -> str:
    """HOST[:PORT], checked here (bad: usage and exit 2), split by server_and_port in main()."""
    try:
        parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _port(text: str) -> int:
    try:
        return parse_port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ports(text: str) -> Tuple[str, Tuple[int, ...]]:
    """`serve --port`: a port or a range, A-B; (as typed, the ports)."""
    first, dash, last = text.partition("-")
    low, high = _port(first), _port(last) if dash else _port(first)
    if high < low:
        raise argparse.ArgumentTypeError("range {!r} ends before it starts".format(text))
    return text, tuple(range(low, high + 1))


def _serve(args: argparse.Namespace) -> int:
    label = _use_demo() if args.demo else "hrpyc"
    typed, ports = args.port or (None, config.ports())
    named = Setting("port", typed) if typed else "HRPYC_PORT={}-{}".format(ports[0], ports[-1])
    server = start_first_free(
        ports,
        named,
        quiet=not args.verbose,
        host=args.host,
        dispatch=args.dispatch,
        token=args.token,
        certfile=args.certfile,
        keyfile=args.keyfile,
        cafile=args.cafile,
        allow_insecure=args.allow_insecure,
        allow_other_users=args.allow_other_users,
    )
    print(
        "{}: serving on {} (dispatch: {}; Ctrl-C to stop)".format(
            label, format_address(*server.address), server.dispatch
        ),
        flush=True,
    )
    if args.demo:
        print(
            "{}: `hou` is a demo scene: /obj/sphere1, /obj/geo1/OUT, /obj/cam1, /out/cache1; try `hrpyc shell`".format(
                label
            ),
            flush=True,
        )
    elif not houdini.available():
        print(
            "hrpyc: this Python has no `hou` (it is not Houdini or hython): clients reach its modules only; "
            "`hrpyc serve --demo` serves a demo hou",
            flush=True,
        )
    server.serve_forever()
    print("{}: stopped".format(label), flush=True)
    return 0


def _use_demo() -> str:
    """--demo: the demo scene becomes this process's `hou`, and hrpyc's log lines say it is a demo;
    returns the label every printed line starts with."""
    if not houdini.use_demo():
        raise HrpycError(
            "--demo serves a demo scene in a plain Python, and this one is Houdini (hou is loaded): "
            "serve its own hou, without --demo"
        )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_DemoLines())
    logging.getLogger("hrpyc").addHandler(handler)  # start_server(quiet=False) adds no second one
    return DEMO_LABEL


class _DemoLines(logging.Formatter):
    """hrpyc's log lines as `hrpyc serve --demo` prints them: the demo's label in place of `hrpyc:`."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return "{}: {}".format(DEMO_LABEL, text[len("hrpyc: ") :] if text.startswith("hrpyc: ") else text)


REGISTERED_ROW = "{:<22} {}"


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


def _sessions(args: argparse.Namespace) -> int:
    if args.clients:
        return _session_clients(args)
    if args.registry is None:
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
            print("hrpyc: no hrpyc session of this user runs on this machine")
        return 0
    found, odd = discovery.registered(args.registry or None)
    if found:
        print(REGISTERED_ROW.format("ADDRESS", "SERVER"))
    for host, port in found:
        try:
            # Anyone may register an address: only a token given to this very command is shown to it.
            with connect(host, port, timeout=3, token=args.token or "") as conn:
                what = _describe(conn)
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


def _session_clients(args: argparse.Namespace) -> int:
    """`hrpyc sessions --clients`: each local session, then who is connected to it (but us, who ask)."""
    if args.registry is not None:
        print("hrpyc: --clients lists this machine's sessions only; leave out --registry", file=sys.stderr)
        return 2
    live = sessions.live()
    for record in live:
        said, port = record.get("host"), record["port"]
        host = said if type(said) is str else ""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
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
        for line in _aligned(rows) if found else []:
            print("  " + line)
        if not found:
            print("  no clients connected")
    if not live:
        print("hrpyc: no hrpyc session of this user runs on this machine")
    return 0


def _panel(args: argparse.Namespace) -> int:
    try:
        from hrpyc import _panel as panel
    except ImportError as exc:
        print("hrpyc: {}".format(exc), file=sys.stderr)
        return 1
    return panel.main()


def _mcp(args: argparse.Namespace) -> int:
    from hrpyc._cli import mcp_server

    spell = functools.partial(flag, verb="mcp")
    return mcp_server.main(args.host, args.port, args.token, args.cafile, args.read_only, spell)


def _install(args: argparse.Namespace) -> int:
    return install.main(args.rest)


def _ping(args: argparse.Namespace) -> int:
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
        what = _describe(conn)
    print(
        "hrpyc: {} is alive: {}; connect {:.1f} ms, round trip {:.2f} ms (median of {})".format(
            conn.address, what, connected * 1e3, statistics.median(rtts) * 1e3, len(rtts)
        )
    )
    return 0


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


def _describe(conn: Any) -> str:
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


def _shell(args: argparse.Namespace) -> int:
    conn = _connect(args)
    return shell.run(conn, about=_describe(conn))
