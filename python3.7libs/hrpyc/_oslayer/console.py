"""Both sides: the console - text that can always be printed, and Ctrl-C.

- Text: a console's encoding may lack a character (a scene path in Japanese on a cp1252 Windows
  console, a terminal in the C locale): it is printed as its escape (\\u30b7), never UnicodeEncodeError.
- End of input: Ctrl-D at a POSIX terminal; at Windows' console, Ctrl-Z then Enter.
- Ctrl-C: POSIX sends SIGINT to the terminal's processes. Windows sends Ctrl-C as SIGINT and Ctrl-Break
  as SIGBREAK, whose default ends the process with no clean-up; and no signal can be sent to a child:
  it must be started in a process group of its own (CREATE_NEW_PROCESS_GROUP) and sent CTRL_BREAK_EVENT.
"""

import signal
import subprocess
import sys
import threading
from typing import Any, Callable, Dict, Optional, TextIO, Tuple

from hrpyc._oslayer import system

SIGBREAK = getattr(signal, "SIGBREAK", 21)  # Windows' numbers, named here for every OS's tests
CTRL_BREAK_EVENT = getattr(signal, "CTRL_BREAK_EVENT", 1)
CREATE_NEW_PROCESS_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)


def never_unencodable(*streams: Any) -> None:
    """Have `streams` (stdout and stderr) write what their encoding lacks (a scene name in Japanese on a
    cp1252 console, a `\\u202e` a server sent) as its escape instead of raising UnicodeEncodeError."""
    for stream in streams or (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # io.TextIOWrapper's, Python 3.7 on
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def say(text: str, stream: Optional[TextIO] = None) -> None:
    """print(text) to `stream` (stdout), escaping what its encoding lacks: for code that prints into a
    console it does not own (Houdini's), so cannot reconfigure."""
    stream = stream if stream is not None else sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # an encoding Python does not know: ASCII is in every one
        text = text.encode("ascii", "backslashreplace").decode("ascii")
    print(text, file=stream, flush=True)


def end_of_input(line_editor: bool) -> str:
    """The keys that leave an interactive prompt: Ctrl-D, but at Python's own prompt on Windows, Ctrl-Z
    then Enter (`line_editor`: IPython's, which takes Ctrl-D on every OS)."""
    return "Ctrl-Z then Enter" if system.NAME == "windows" and not line_editor else "Ctrl-D"


def interrupts() -> Tuple[int, ...]:
    """The signals Ctrl-C (and, on Windows, Ctrl-Break) send."""
    return (signal.SIGINT, SIGBREAK) if system.NAME == "windows" else (signal.SIGINT,)


def break_interrupts() -> Callable[[], None]:
    """Make Ctrl-Break (and CTRL_BREAK_EVENT) raise KeyboardInterrupt as Ctrl-C does, on Windows (from
    the main thread: only it has signal handlers). Returns what puts the previous handler back."""
    if system.NAME == "windows" and threading.current_thread() is threading.main_thread():
        previous = signal.signal(SIGBREAK, signal.default_int_handler)

        def restore() -> None:
            signal.signal(SIGBREAK, signal.SIG_DFL if previous is None else previous)

        return restore
    return lambda: None


def child_options() -> Dict[str, int]:
    """subprocess.Popen's keywords for a child that interrupt() can stop as Ctrl-C would."""
    return {"creationflags": CREATE_NEW_PROCESS_GROUP} if system.NAME == "windows" else {}


def interrupt(process: "subprocess.Popen[Any]") -> None:
    """Ctrl-C for a child started with child_options() (on Windows it must call break_interrupts())."""
    process.send_signal(CTRL_BREAK_EVENT if system.NAME == "windows" else signal.SIGINT)
