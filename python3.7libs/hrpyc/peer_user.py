"""Server side: which OS user is at the other end of a loopback connection.

Loopback is no boundary on a shared workstation or farm node: any user's process can connect. Linux
says who did: the client's socket has a line in /proc/net/tcp (or tcp6) whose local address is the
peer's and whose remote address is ours, and that line carries its owner's uid. macOS and Windows
offer no such cheap look-up to an unprivileged process; there `can_tell()` is False.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from typing import Optional, Tuple

TABLES = {socket.AF_INET: "/proc/net/tcp", getattr(socket, "AF_INET6", -1): "/proc/net/tcp6"}


def can_tell() -> bool:
    return sys.platform.startswith("linux") and os.path.exists(TABLES[socket.AF_INET])


def owner(sock: socket.socket) -> Optional[int]:
    """The uid owning the client end of `sock` (a socket this server accepted), or None when the
    line is not there (the client already left) or this system cannot tell."""
    table = TABLES.get(sock.family)
    if table is None or not can_tell():
        return None
    key = "{} {} ".format(_entry(sock.family, sock.getpeername()), _entry(sock.family, sock.getsockname()))
    try:
        with open(table) as handle:
            text = handle.read()
    except OSError:
        return None
    at = text.find(key)
    if at < 0:
        return None
    # local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    fields = text[at : text.find("\n", at)].split()
    return int(fields[6])


def _entry(family: int, address: Tuple) -> str:
    """An address as /proc/net/tcp{,6} prints it: the address's 32-bit words in host order, in hex."""
    host, port = address[0], address[1]
    if family == socket.AF_INET:
        words = struct.unpack("=I", socket.inet_aton(host))
    else:
        words = struct.unpack("=4I", socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0]))
    return "{}:{:04X}".format("".join("{:08X}".format(word) for word in words), port)
