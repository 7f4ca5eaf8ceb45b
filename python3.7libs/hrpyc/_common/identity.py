"""Both sides: who a client is - its program, pid, user and host - as our client tells the server in its
handshake, and as the server keeps it: bounded and printable, whatever a peer sends.

Nothing secret: what `ps` shows any user of the machine. A stock rpyc client says nothing and is shown as
STOCK.
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
from typing import Any, Dict, Tuple

from hrpyc._common.printable import printable

STOCK = "stock rpyc client"
# What a peer may say, and how much of it is kept: anything longer is cut, other keys are ignored.
LIMITS = {"program": 64, "pid": 10, "user": 64, "host": 128}
MAX_PAIRS = 2 * len(LIMITS)  # pairs a handshake may carry; the rest is not looked at

Pairs = Tuple[Tuple[str, str], ...]


def own() -> Pairs:
    """This process's identity, as our client sends it."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name: no USER/LOGNAME and no passwd entry (a container's uid)
        user = ""
    return (("program", program()), ("pid", str(os.getpid())), ("user", user), ("host", socket.gethostname()))


def program() -> str:
    """The script or program this Python runs: `python3 tool.py` is 'tool.py', `python -m pytest` is
    'pytest', `mayapy` (or an interactive python) is the interpreter's name."""
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-") else ""
    name = os.path.basename(script or sys.executable or "python")
    if name == "__main__.py":  # python -m package
        name = os.path.basename(os.path.dirname(script))
    return name


def read(pairs: Any) -> Dict[str, str]:
    """The identity in what a peer sent: known keys only, the first of each, its value cut to its limit with
    anything unprintable escaped (see hrpyc._common.printable: control characters never reach a log or a panel).
    Never raises, never calls back into the peer: only real tuples of real strings are looked at (a
    proxy is ignored)."""
    found: Dict[str, str] = {}
    if type(pairs) is not tuple:
        return found
    for pair in pairs[:MAX_PAIRS]:
        if type(pair) is not tuple or len(pair) != 2:
            continue
        key, value = pair
        if type(key) is not str or type(value) is not str or key not in LIMITS or key in found:
            continue
        text = printable(value, LIMITS[key]).strip()
        if key == "pid" and not (text.isdigit() and text.isascii()):
            continue
        if text:
            found[key] = text
    return found
