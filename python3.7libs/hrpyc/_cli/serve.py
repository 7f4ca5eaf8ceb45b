"""Server side: `hrpyc serve`: this Python (hython: this Houdini), or a demo scene as `hou`, served until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import sys

from hrpyc._common import config
from hrpyc._common.address import format_address
from hrpyc._houdini import houdini
from hrpyc._server.lifecycle import start_first_free
from hrpyc.errors import HrpycError, Setting

DEMO_LABEL = "hrpyc (demo, not Houdini)"  # what starts every line `hrpyc serve --demo` prints


def run(args: argparse.Namespace) -> int:
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
