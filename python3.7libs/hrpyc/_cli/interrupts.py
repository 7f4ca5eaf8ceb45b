"""Front: Ctrl-C ends the `hrpyc` command with exit status 130 and no traceback, whenever it comes.

While the command runs, the CLI's main() turns KeyboardInterrupt into that status. Before it runs - the few hundred
milliseconds in which `hrpyc ...` or `python -m hrpyc ...` loads hrpyc and rpyc - and in the moments around
it, this module does as it is imported, the package's first import: for a process started as the command
only, an uncaught KeyboardInterrupt then ends the process quietly. A program that merely imports hrpyc
keeps its own Ctrl-C. (Before the first line of hrpyc runs, Ctrl-C is Python's own affair: a traceback of
its start-up.)
"""

from __future__ import annotations

import os  # nothing slow to load: the hook is set at once
import sys
import types

STATUS = 130  # what a shell reports for a command ended by Ctrl-C (128 + SIGINT)


def while_loading() -> None:
    """In the `hrpyc` command: an uncaught KeyboardInterrupt exits with STATUS, printing nothing."""
    if not _is_the_command():
        return
    previous = sys.excepthook

    def quietly(kind: type[BaseException], value: BaseException, tb: types.TracebackType | None) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed or broken stream: nothing left to say on it
                pass
        os._exit(STATUS)  # Python >= 3.8 would print the traceback, then end by SIGINT; 3.7 with status 1

    sys.excepthook = quietly
    from hrpyc._oslayer import console  # not before: loading it takes a while

    console.break_interrupts()  # Windows' Ctrl-Break too, as the CLI's main() makes it


def _is_the_command() -> bool:
    """Is this process `hrpyc ...` (the console script) or `python -m hrpyc[.module] ...`?"""
    if sys.argv[:1] == ["-m"]:  # `python -m X` while X's package loads; Python 3.10+ also says which X
        started = getattr(sys, "orig_argv", None)
        return started is None or any(arg.split(".")[0] in ("hrpyc", "-mhrpyc") for arg in started)
    name = os.path.splitext(os.path.basename(sys.argv[0] if sys.argv else ""))[0]
    return name in ("hrpyc", "hrpyc-script")  # the console script: bin/hrpyc; Scripts\\hrpyc.exe on Windows


while_loading()
