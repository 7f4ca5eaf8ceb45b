"""Both sides, macOS only: the libproc calls the rest of `oslayer` needs, each returning what macOS gives
(bytes of a struct) or raising OSError - nothing decided here. ctypes only; no administrator rights needed:
libproc shows an unprivileged process its own user's processes' files.
"""

import ctypes
import os
import sys
from typing import Iterator, List

assert sys.platform == "darwin"

_libproc = ctypes.CDLL("/usr/lib/libproc.dylib", use_errno=True)  # in the shared cache since macOS 11
_libproc.proc_listpids.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_int]
_libproc.proc_pidinfo.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_int]
_libproc.proc_pidfdinfo.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
for _function in (_libproc.proc_listpids, _libproc.proc_pidinfo, _libproc.proc_pidfdinfo):
    _function.restype = ctypes.c_int

PROC_UID_ONLY, PROC_PIDLISTFDS, PROC_PIDTBSDINFO, PROC_PIDFDSOCKETINFO = 4, 1, 3, 3
PROX_FDTYPE_SOCKET = 2
BSD_INFO_SIZE = 136  # sizeof(struct proc_bsdinfo)
SOCKET_INFO_SIZE = 2048  # more than sizeof(struct socket_fdinfo) (792): the kernel refuses a smaller buffer


def _failed() -> OSError:
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code))


def socket_infos() -> Iterator[bytes]:
    """proc_pidfdinfo(PROC_PIDFDSOCKETINFO) - a struct socket_fdinfo, as bytes - of every socket this
    user's processes hold, this process's first. A process that ends meanwhile is skipped."""
    for pid in _own_pids():
        for fd in _socket_fds(pid):
            buffer = ctypes.create_string_buffer(SOCKET_INFO_SIZE)
            got = _libproc.proc_pidfdinfo(pid, fd, PROC_PIDFDSOCKETINFO, buffer, SOCKET_INFO_SIZE)
            if got > 0:
                yield buffer.raw[:got]


def _own_pids() -> List[int]:
    """proc_listpids(PROC_UID_ONLY, our uid), this process first."""
    size = _libproc.proc_listpids(PROC_UID_ONLY, os.getuid(), None, 0)
    if size <= 0:
        raise _failed()
    room = size // 4 + 64  # processes start meanwhile
    pids = (ctypes.c_int * room)()
    got = _libproc.proc_listpids(PROC_UID_ONLY, os.getuid(), pids, ctypes.sizeof(pids))
    if got <= 0:
        raise _failed()
    own = os.getpid()
    return [own] + [pid for pid in pids[: got // 4] if pid > 0 and pid != own]


def _socket_fds(pid: int) -> List[int]:
    """The descriptors of process `pid` that are sockets (proc_pidinfo(PROC_PIDLISTFDS): struct proc_fdinfo,
    an int32 descriptor and a uint32 type each)."""
    size = _libproc.proc_pidinfo(pid, PROC_PIDLISTFDS, 0, None, 0)
    if size <= 0:
        return []
    room = size // 8 + 32  # descriptors open meanwhile
    entries = (ctypes.c_int32 * (2 * room))()
    got = _libproc.proc_pidinfo(pid, PROC_PIDLISTFDS, 0, entries, ctypes.sizeof(entries))
    return [entries[2 * i] for i in range(max(got, 0) // 8) if entries[2 * i + 1] == PROX_FDTYPE_SOCKET]


def bsd_info(pid: int) -> bytes:
    """proc_pidinfo(PROC_PIDTBSDINFO): a struct proc_bsdinfo, as bytes."""
    buffer = ctypes.create_string_buffer(BSD_INFO_SIZE)
    if _libproc.proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, buffer, BSD_INFO_SIZE) < BSD_INFO_SIZE:
        raise _failed()
    return buffer.raw
