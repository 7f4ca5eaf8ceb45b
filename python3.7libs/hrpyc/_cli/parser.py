"""Both sides: the `hrpyc` command's verbs and their flags, each verb's `run`, and a setting an error names
spelled as the flag that sets it."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any, Tuple

from hrpyc._cli import install, listing, remote, serve
from hrpyc._common.address import format_address, parse_address, parse_port
from hrpyc._common.config import DEFAULT_HOST, DEFAULT_PORT, DISPATCH_MODES
from hrpyc._common.version import __version__
from hrpyc._wire.rpyc_versions import RPYC_VERSION_STRING
from hrpyc.errors import PORT_RANGE, Setting

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


def build() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrpyc", description="Drive a running Houdini from any Python.")
    parser.add_argument("--version", action="version", version=version())
    verbs = parser.add_subparsers(dest="verb", metavar="{serve,ping,shell,sessions,panel,install,mcp}")
    verbs.required = True
    _add_serve(verbs)
    _add_sessions(verbs)
    verbs.add_parser("panel", help="open the hrpyc panel, serving this Python").set_defaults(run=_panel)
    verbs.add_parser(
        "install", help="install hrpyc as a Houdini package for this user (--help for more)", add_help=False
    ).set_defaults(run=_install)
    _add_mcp(verbs)
    _add_talking(verbs)
    return parser


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


def _add_serve(verbs: Any) -> None:
    serve_verb = verbs.add_parser("serve", help="serve this Python (hython: this Houdini) until Ctrl-C")
    serve_verb.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    serve_verb.add_argument(
        "--port",
        type=_ports,
        default=None,
        metavar="PORT",
        help="a port, 0 for a free one, or a range taking the first free one: {} (default: HRPYC_PORT, else {})".format(
            PORT_RANGE, DEFAULT_PORT
        ),
    )
    serve_verb.add_argument(
        "--dispatch", choices=DISPATCH_MODES, default=None, help="where requests run (default: auto)"
    )
    serve_verb.add_argument("--token", default=None, help="a token clients must show, or 'auto' (default: HRPYC_TOKEN)")
    serve_verb.add_argument("--certfile", default=None, help="serve over TLS with this certificate (HRPYC_TLS_CERT)")
    serve_verb.add_argument("--keyfile", default=None, help="the certificate's key (HRPYC_TLS_KEY)")
    serve_verb.add_argument("--cafile", default=None, help="require client certificates it signed (HRPYC_TLS_CA)")
    serve_verb.add_argument(
        "--allow-insecure", action="store_true", default=None, help="listen beyond loopback with no credential"
    )
    serve_verb.add_argument(
        "--allow-other-users",
        action="store_true",
        default=None,
        help="let other users' processes on this machine in, with the credential asked for (HRPYC_ALLOW_OTHER_USERS)",
    )
    serve_verb.add_argument("-v", "--verbose", action="store_true", help="log clients coming and going")
    serve_verb.add_argument(
        "--demo", action="store_true", help="serve a small demo scene as `hou` (not Houdini): try hrpyc without Houdini"
    )
    serve_verb.set_defaults(run=serve.run)


def _add_sessions(verbs: Any) -> None:
    sessions = verbs.add_parser("sessions", help="list this user's hrpyc sessions here, or a registry's")
    sessions.add_argument(
        "--registry",
        nargs="?",
        const="",
        default=None,
        metavar="HOST[:PORT]",
        help="ask rpyc's registry (udp://, tcp://; default: HRPYC_REGISTRY) instead",
    )
    sessions.add_argument(
        "--clients", action="store_true", help="list each local session's connected clients (asks each session)"
    )
    sessions.add_argument(
        "--token",
        default=None,
        help="the token to show the registry's servers (HRPYC_TOKEN is not offered to what a registry names)",
    )
    sessions.set_defaults(run=listing.run)


def _add_mcp(verbs: Any) -> None:
    mcp = verbs.add_parser("mcp", help="serve Houdini's tools to an AI assistant (MCP over stdio; hrpyc[mcp])")
    mcp.add_argument("--host", default=DEFAULT_HOST, help="where Houdini serves (default %(default)s)")
    mcp.add_argument("--port", type=_port, default=None, help="default: this user's only local session, else 18811")
    mcp.add_argument("--token", default=None, help="the server's token (default: HRPYC_TOKEN, or this user's own)")
    mcp.add_argument("--cafile", default=None, help="connect over TLS, trusting this CA (HRPYC_TLS_CA)")
    mcp.add_argument("--read-only", action="store_true", help="offer only the tools that change nothing")
    mcp.set_defaults(run=_mcp)


def _add_talking(verbs: Any) -> None:
    """`ping` and `shell`: the verbs that talk to one server, named as HOST[:PORT] and --port."""
    for name, run, text in (
        ("ping", remote.ping, "say whether a server answers, how fast, and what it is"),
        ("shell", remote.run_shell, "an interactive prompt where `hou` is the server's"),
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
