"""Both sides: local discovery: each running server keeps a record in this user's folder (never the
secret), removed when it stops; records of processes that died are recognised and ignored.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from typing import Any, Dict, List

from . import userdir

Record = Dict[str, Any]


def _folder() -> str:
    path = os.path.join(userdir.state_dir(), "sessions")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _path(pid: int, port: int) -> str:
    return os.path.join(_folder(), "{}-{}.json".format(pid, port))


def register(record: Record) -> str:
    """Write this server's record; returns its path, for unregister()."""
    record = dict(record, pid=os.getpid(), user=_user(), started=time.time())
    path = _path(os.getpid(), record["port"])
    userdir.write_private(path, json.dumps(record, sort_keys=True))
    return path


def unregister(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def live() -> List[Record]:
    """Records of servers whose process is still alive, oldest first; dead ones are deleted."""
    records = []
    for name in os.listdir(_folder()):
        path = os.path.join(_folder(), name)
        try:
            with open(path) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue
        if _alive(int(record.get("pid", 0))):
            records.append(record)
        else:
            unregister(path)
    return sorted(records, key=lambda r: r.get("started", 0))


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (some containers, services)
        return ""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True
