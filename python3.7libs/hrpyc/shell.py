"""Client side: `hrpyc shell`: a prompt in this Python where `hou` and `connection` are the server's.

IPython's when it is installed, else the standard library's. A server that stops or a connection that
drops ends the shell with one line and exit status 1, rather than leaving it on a dead connection; an
error raised in the server prints as the server's traceback alone, without rpyc's frames or ours, and
escaped (see hrpyc.printable): it is the server's text.
"""

from __future__ import annotations

import code
import os
import re
import sys
from typing import Any, Dict, Optional

from .errors import ConnectionLostError, HrpycError
from .printable import printable

LOST = 1  # the exit status when the connection is lost
TRACEBACK = 20_000  # characters of a server's traceback shown (a legitimate one is a few thousand)
# A frame of a formatted traceback: its `File "...", line N, in f` line and the indented lines under it.
_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line \d+.*\n(?:    .*\n)*', re.MULTILINE)
_PLUMBING = re.compile(r"[/\\](rpyc|hrpyc)[/\\]")  # frames of rpyc's and hrpyc's own code, on either side


def run(conn: Any, about: str) -> int:
    """The prompt, until Ctrl-D (0) or until the connection is lost (1). `about`: what the server is."""
    namespace: Dict[str, Any] = {"connection": conn}
    try:
        namespace["hou"] = conn.modules["hou"]
        theirs = "`hou` and `connection` are the server's"
    except HrpycError:  # the connection failed: the CLI says so in one line
        conn.close()
        raise
    except Exception:  # ImportError: not a Houdini (or a server that answers oddly)
        theirs = "`connection` is the server's (it has no `hou`: not a Houdini)"
    banner = "hrpyc shell: this prompt runs here, in this Python (pid {}); {}, at {}: {}. Ctrl-D leaves.".format(
        os.getpid(), theirs, conn.address, about
    )
    try:
        ipython = _ipython_shell()
        return _standard(namespace, banner) if ipython is None else _ipython(ipython, namespace, banner)
    finally:
        conn.close()


def remote_traceback(exc: BaseException) -> Optional[str]:
    """The server's traceback of an error rpyc brought over, without rpyc's and hrpyc's frames, escaped
    and bounded; None for an error raised here."""
    text = getattr(exc, "_remote_tb", None)  # rpyc (4.1 - 6.0) keeps the server's traceback here
    if not isinstance(text, str):
        return None
    text = _FRAME.sub(lambda frame: "" if _PLUMBING.search(frame.group("file")) else frame.group(0), text)
    text = text.replace("Traceback (most recent call last):", "Traceback in the server (most recent call last):", 1)
    return printable(text.rstrip(), TRACEBACK, lines=True)


def _lost(exc: BaseException) -> bool:
    """Is this the connection going away (rather than an error the server raised)?"""
    return isinstance(exc, ConnectionLostError) or (isinstance(exc, EOFError) and remote_traceback(exc) is None)


class _Ended(Exception):
    """The connection is gone: leave the prompt."""


class _Console(code.InteractiveConsole):
    def showtraceback(self) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C during a command: one line, and the prompt again
            print("KeyboardInterrupt", file=sys.stderr)
            return
        if exc is not None and _lost(exc):
            print("hrpyc: {}".format(printable(str(exc), 1000)), file=sys.stderr)
            raise _Ended
        remote = remote_traceback(exc) if exc is not None else None
        if remote is None:
            super().showtraceback()
        else:
            print(remote, file=sys.stderr)


def _standard(namespace: Dict[str, Any], banner: str) -> int:
    try:
        _Console(namespace).interact(banner=banner, exitmsg="")
    except _Ended:
        return LOST
    return 0


def _ipython_shell() -> Any:
    """IPython's terminal shell class, or None without IPython."""
    try:
        from IPython.terminal.interactiveshell import TerminalInteractiveShell
    except ImportError:
        return None
    return TerminalInteractiveShell


def _ipython(shell_class: Any, namespace: Dict[str, Any], banner: str) -> int:
    status = []

    def handle(shell: Any, kind: type, exc: BaseException, tb: Any, tb_offset: Optional[int] = None) -> None:
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C during a command: one line, and the prompt again
            print("KeyboardInterrupt", file=sys.stderr)
            return
        if _lost(exc):
            print("hrpyc: {}".format(printable(str(exc), 1000)), file=sys.stderr)
            status.append(LOST)
            shell.ask_exit()
            return
        remote = remote_traceback(exc)
        if remote is None:
            shell.showtraceback((kind, exc, tb), tb_offset=tb_offset)
        else:
            print(remote, file=sys.stderr)

    shell = shell_class(user_ns=namespace, banner1=banner + "\n", banner2="")
    if shell.has_trait("enable_tip"):  # IPython >= 8.? adds a tip of the day under the banner
        shell.enable_tip = False
    shell.set_custom_exc((Exception, KeyboardInterrupt), handle)
    shell.show_banner()
    shell.mainloop()
    return status[0] if status else 0
