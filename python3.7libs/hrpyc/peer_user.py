"""Both sides: which OS user is at the other end of a loopback connection.

Loopback is no boundary on a shared workstation or farm node: any user's process can connect, and any
user's process can hold a port our client dials. Linux says who: each end of a TCP connection has a line
in /proc/net/tcp (or tcp6) naming its local and remote address, its state and, while a process still
holds the socket, its owner's uid and inode. The server asks who holds the client's end (`client_owner`);
the client asks who holds the server's end, or the listener behind it (`server_owner`).

Only a line of a socket some process still holds counts: a TIME_WAIT line, or that of a socket its process
closed, names uid 0 (nobody's), so it means "cannot tell" - never root. macOS and Windows offer no such
cheap look-up to an unprivileged process; there `can_tell()` is False.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from typing import Iterator, List, Optional, Tuple

TABLES = {socket.AF_INET: "/proc/net/tcp", getattr(socket, "AF_INET6", -1): "/proc/net/tcp6"}
LISTEN = "0A"
# States of a socket a process may still hold (ESTABLISHED, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING;
# with its inode): TIME_WAIT (06) and CLOSE (07) never have an owner.
HELD = frozenset(("01", "04", "05", "08", "09", "0B"))
WILDCARDS = {socket.AF_INET: "0.0.0.0", getattr(socket, "AF_INET6", -1): "::"}


def can_tell() -> bool:
    return sys.platform.startswith("linux") and os.path.exists(TABLES[socket.AF_INET])


def client_owner(sock: socket.socket) -> Optional[int]:
    """The uid holding the client end of `sock` (a socket this server accepted), or None when no live
    socket holds it (the client left, or closed its end already) or this system cannot tell."""
    if not can_tell():
        return None
    return _owner(sock.family, [(_entry(sock.family, sock.getpeername()), _entry(sock.family, sock.getsockname()))])


def server_owner(sock: socket.socket) -> Optional[int]:
    """The uid holding the server end of `sock` (a socket our client connected), or else the listener it
    reached (a connection the server has not accepted yet has no owner of its own); None when this
    system cannot tell."""
    if not can_tell():
        return None
    family, (host, port) = sock.family, sock.getpeername()[:2]
    wanted: List[Tuple[str, Optional[str]]] = [(_entry(family, (host, port)), _entry(family, sock.getsockname()))]
    wanted += [(_entry(family, (listening, port)), None) for listening in (host, WILDCARDS[family])]
    return _owner(family, wanted)


def _owner(family: int, wanted: List[Tuple[str, Optional[str]]]) -> Optional[int]:
    """The uid of the first of `wanted` (local, remote) pairs held by a live socket; remote None: a listener."""
    lines = list(_lines(family))
    for local, remote in wanted:
        for fields in lines:
            if fields[1] != local:
                continue
            if remote is None:
                if fields[3] != LISTEN:
                    continue
            elif fields[2] != remote or fields[3] not in HELD:
                continue
            if fields[9] == "0":  # no inode: no process holds this socket (yet, or any longer)
                continue
            return int(fields[7])
    return None


def _lines(family: int) -> Iterator[List[str]]:
    """The table's rows split into fields: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ..."""
    table = TABLES.get(family)
    if table is None:
        return
    try:
        with open(table) as handle:
            text = handle.read()
    except OSError:
        return
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 10:
            yield fields


def _entry(family: int, address: Tuple) -> str:
    """An address as /proc/net/tcp{,6} prints it: the address's 32-bit words in host order, in hex."""
    host, port = address[0], address[1]
    if family == socket.AF_INET:
        words = struct.unpack("=I", socket.inet_aton(host))
    else:
        words = struct.unpack("=4I", socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0]))
    return "{}:{:04X}".format("".join("{:08X}".format(word) for word in words), port)
