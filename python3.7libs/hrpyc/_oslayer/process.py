"""Both sides: whether a process is alive, and when it started - so a record that names a pid is not
taken for a process that got the same pid later (Windows reuses pids quickly).

- Linux: /proc/PID/stat's field 22, the start in clock ticks since boot.
- Windows: GetProcessTimes' creation time (FILETIME: 100 ns since 1601); alive while GetExitCodeProcess
  says STILL_ACTIVE.
- macOS: proc_pidinfo(PROC_PIDTBSDINFO)'s pbi_start_tvsec and pbi_start_tvusec.
- Elsewhere: no start time (None, on both sides of the comparison); on POSIX kill(pid, 0) says whether
  it is alive.
"""

import os
import struct
from typing import Optional

from hrpyc._oslayer import system

STILL_ACTIVE = 259
# struct proc_bsdinfo (sys/proc_info.h): pbi_start_tvsec and pbi_start_tvusec, uint64 each, at 120
MACOS_START = struct.Struct("=QQ")
MACOS_START_AT = 120


def started(pid: int) -> Optional[str]:
    """When process `pid` started, as this system counts it, or None where it cannot tell (no such
    process, not ours to look at, or a system without a count); a reused pid has another."""
    try:
        if system.NAME == "linux":
            return linux_started(system.calls("linux").process_stat(pid))
        if system.NAME == "windows":
            win32 = system.calls("win32")
            return windows_started(win32.creation_time(pid))
        if system.NAME == "macos":
            darwin = system.calls("darwin")
            return macos_started(darwin.bsd_info(pid))
    except OSError:
        return None
    return None


def alive(pid: int) -> bool:
    """Whether process `pid` runs (another user's included)."""
    if pid <= 0:
        return False
    if system.NAME == "windows":
        win32 = system.calls("win32")
        try:
            return win32.exit_code(pid) == STILL_ACTIVE
        except OSError as exc:
            return getattr(exc, "winerror", None) == 5  # ERROR_ACCESS_DENIED: there, another user's
    if os.name != "posix":  # no kill(pid, 0) to ask with: Windows' os.kill(pid, 0) sends Ctrl-C
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def linux_started(stat: str) -> Optional[str]:
    """Field 22 of /proc/PID/stat (`stat`), counted after the command name, which may hold ') '."""
    try:
        return stat.rsplit(")", 1)[1].split()[19]
    except IndexError:
        return None


def windows_started(creation: int) -> str:
    return str(creation)


def macos_started(info: bytes) -> Optional[str]:
    """'seconds.microseconds' from a PROC_PIDTBSDINFO answer (`info`: struct proc_bsdinfo)."""
    if len(info) < MACOS_START_AT + MACOS_START.size:
        return None
    return "{}.{:06d}".format(*MACOS_START.unpack_from(info, MACOS_START_AT))
