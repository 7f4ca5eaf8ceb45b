"""Both sides: the `hrpyc` command (its console script, and `python -m hrpyc`): serve, ping, shell, sessions,
panel, install and mcp (see hrpyc._cli.parser), an error as one line in the command's words, Ctrl-C as
exit status 130."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from hrpyc._cli import interrupts, parser
from hrpyc._cli.remote import MESSAGE
from hrpyc._cli.serve import DEMO_LABEL
from hrpyc._common.address import server_and_port
from hrpyc._common.printable import printable
from hrpyc._oslayer import console
from hrpyc.errors import HrpycError


def main(argv: Optional[Sequence[str]] = None) -> int:
    console.never_unencodable()  # a scene name in Japanese on a cp1252 console is printed, escaped
    console.break_interrupts()  # Windows' Ctrl-Break stops `hrpyc serve` as cleanly as Ctrl-C
    verbs = parser.build()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # bare `hrpyc`: what it can do
        verbs.print_help()
        return 0
    args, extra = verbs.parse_known_args(argv)
    if args.verb == "install":
        args.rest = extra  # the installer's own options
    elif extra:
        verbs.error("unrecognized arguments: " + " ".join(extra))
    if args.verb in ("ping", "shell"):
        try:  # HOST[:PORT] and --port: the port given once
            args.address = server_and_port(args.address, args.port)
        except ValueError as exc:
            verbs.error(str(exc).replace("server=", "HOST:PORT ").replace("port=", "--port "))
    try:
        return args.run(args)
    except HrpycError as exc:
        label = DEMO_LABEL if getattr(args, "demo", False) else "hrpyc"
        message = exc.worded(lambda setting: parser.flag(setting, args.verb))
        print("{}: {}".format(label, printable(message, MESSAGE)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the shell shows ^C; no traceback (see hrpyc._cli.interrupts)
        return interrupts.STATUS
