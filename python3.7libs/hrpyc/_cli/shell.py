"""Client side: `hrpyc shell`: a prompt in this Python where `hou` and `connection` are the server's.

IPython's when it is installed, else the standard library's. A server that stops or a connection that
drops ends the shell with one line and exit status 1, rather than leaving it on a dead connection; an
error raised in the server prints as the server's traceback alone, without rpyc's frames or ours, and
escaped (see hrpyc._common.printable): it is the server's text.
"""

from __future__ import annotations

import code
import os
import re
import sys
from typing import Any, Dict, Optional, Sequence

import rpyc

from hrpyc._common.printable import printable
from hrpyc._oslayer import console
from hrpyc._wire.rpyc_versions import rpyc_traceback
from hrpyc.errors import ConnectionLostError, HrpycError

LOST = 1  # the exit status when the connection is lost
TRACEBACK = 20_000  # characters of a server's traceback shown (a legitimate one is a few thousand)
# A frame of a formatted traceback: its `File "...", line N, in f` line and the indented lines under it.
_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line \d+.*\n(?:    .*\n)*', re.MULTILINE)
NO_HOU = "it has no `hou`: it is not a Houdini; `hrpyc serve --demo` serves a demo one"
HOU_IS_HERE = "hrpyc: `hou` is the server's, and already here: use it without importing it"


def run(conn: Any, about: str) -> int:
    """The prompt, until end of input (0: Ctrl-D; Ctrl-Z on Windows) or the connection is lost (1).
    `about`: what the server is."""
    namespace: Dict[str, Any] = {"connection": conn}
    try:
        namespace["hou"] = conn.modules["hou"]
        theirs = "`hou` and `connection` are the server's"
    except HrpycError:  # the connection failed: the CLI says so in one line
        conn.close()
        raise
    except Exception:  # ImportError: not a Houdini (or a server that answers oddly)
        theirs = "`connection` is the server's ({})".format(NO_HOU)
    try:
        show = _Shown(plumbing(conn), "hou" in namespace)
        ipython = _ipython_shell()
        banner = "hrpyc shell: this prompt runs here, in this Python (pid {}); {}, at {}: {}. {} leaves.".format(
            os.getpid(), theirs, conn.address, about, console.end_of_input(line_editor=ipython is not None)
        )
        return _standard(namespace, banner, show) if ipython is None else _ipython(ipython, namespace, banner, show)
    finally:
        conn.close()


def plumbing(conn: Any) -> Sequence[str]:
    """The folders of hrpyc's and rpyc's own code, here and in the server, each as imported and as its real
    path: a traceback's frames from files under them are plumbing. Known by where the packages are, never
    by a folder's name (a checkout named hrpyc, or a user's folder of that name, holds other files too)."""
    folders = []
    for module in (rpyc, sys.modules[__name__.partition(".")[0]]):
        folder = os.path.dirname(os.path.abspath(str(module.__file__)))
        folders += [folder, os.path.realpath(folder)]
    try:
        path = conn.modules.os.path
    except HrpycError:
        raise
    except Exception:  # a server that answers oddly: trim our own frames only
        return folders
    for name in ("rpyc", "hrpyc"):
        try:
            folder = path.dirname(conn.modules[name].__file__)
            folders += [folder, path.realpath(folder)]
        except HrpycError:
            raise
        except Exception:  # a stock server has no hrpyc; a rogue one answers anything
            continue
    return [folder for folder in folders if type(folder) is str and folder.strip("/\\")]


def remote_traceback(exc: BaseException, folders: Sequence[str] = ()) -> Optional[str]:
    """The server's traceback of an error rpyc brought over, without the frames of files under `folders`
    (see plumbing), escaped and bounded; None for an error raised here."""
    text = rpyc_traceback(exc)
    if text is None:
        return None
    text = _FRAME.sub(lambda frame: "" if _under(frame.group("file"), folders) else frame.group(0), text)
    text = text.replace("Traceback (most recent call last):", "Traceback in the server (most recent call last):", 1)
    return printable(text.rstrip(), TRACEBACK, lines=True)


def _under(path: str, folders: Sequence[str]) -> bool:
    """Is `path` a file in one of `folders` (or below)? Either side may be Windows: both separators count."""
    return any(path.startswith(folder) and path[len(folder) : len(folder) + 1] in ("/", "\\") for folder in folders)


def _hint(exc: BaseException, has_hou: bool) -> Optional[str]:
    """A line to print under an error made here, when the shell knows better: `import hou` fails here,
    because hou is the server's."""
    if isinstance(exc, ImportError) and exc.name == "hou" and rpyc_traceback(exc) is None:
        return HOU_IS_HERE if has_hou else "hrpyc: nor can the server give one ({})".format(NO_HOU)
    return None


class _Shown(object):
    """How the shell shows an error: the server's traceback without plumbing (`folders`), or ours and a hint."""

    def __init__(self, folders: Sequence[str], has_hou: bool) -> None:
        self.folders, self.has_hou = folders, has_hou

    def remote(self, exc: BaseException) -> Optional[str]:
        return remote_traceback(exc, self.folders)

    def hint(self, exc: BaseException) -> Optional[str]:
        return _hint(exc, self.has_hou)


def _lost(exc: BaseException) -> bool:
    """Is this the connection going away (rather than an error the server raised)?"""
    return isinstance(exc, ConnectionLostError) or (isinstance(exc, EOFError) and remote_traceback(exc) is None)


class _Ended(Exception):
    """The connection is gone: leave the prompt."""


class _Console(code.InteractiveConsole):
    def __init__(self, namespace: Dict[str, Any], show: _Shown) -> None:
        super().__init__(namespace)
        self._show = show

    def showtraceback(self) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C during a command: one line, and the prompt again
            print("KeyboardInterrupt", file=sys.stderr)
            return
        if exc is not None and _lost(exc):
            print("hrpyc: {}".format(printable(str(exc), 1000)), file=sys.stderr)
            raise _Ended
        remote = self._show.remote(exc) if exc is not None else None
        if remote is None:
            super().showtraceback()
            hint = self._show.hint(exc) if exc is not None else None
            if hint:
                print(hint, file=sys.stderr)
        else:
            print(remote, file=sys.stderr)


def _standard(namespace: Dict[str, Any], banner: str, show: _Shown) -> int:
    try:
        _Console(namespace, show).interact(banner=banner, exitmsg="")
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


def _ipython(shell_class: Any, namespace: Dict[str, Any], banner: str, show: _Shown) -> int:
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
        remote = show.remote(exc)
        if remote is None:
            shell.showtraceback((kind, exc, tb), tb_offset=tb_offset)
            hint = show.hint(exc)
            if hint:
                print(hint, file=sys.stderr)
        else:
            print(remote, file=sys.stderr)

    shell = shell_class(user_ns=namespace, banner1=banner + "\n", banner2="")
    if shell.has_trait("enable_tip"):  # IPython >= 8.? adds a tip of the day under the banner
        shell.enable_tip = False
    shell.set_custom_exc((Exception, KeyboardInterrupt), handle)
    shell.show_banner()
    shell.mainloop()
    return status[0] if status else 0
