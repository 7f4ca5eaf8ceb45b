"""Both sides: which OS user is at the other end of a loopback connection.

Loopback is no boundary on a shared workstation or farm node: any user's process can connect, and any
user's process can hold a port our client dials. Linux says who: the kernel knows, for each end of a TCP
connection, its local and remote address, its state and, while a process still holds the socket, its
owner's uid and inode. The server asks who holds the client's end (`client_owner`); the client asks who
holds the server's end, or the listener behind it (`server_owner`).

The kernel is asked for the one socket by netlink (sock_diag, as `ss` does: tens of microseconds, for any
user); where netlink is not allowed (some sandboxes), /proc/net/tcp is read instead, which takes tens of
milliseconds on a machine with thousands of sockets in TIME_WAIT.

Only a socket some process still holds counts: one in TIME_WAIT, or one its process closed, has no owner
(the kernel says uid 0, inode 0), so it means "cannot tell" - never root. macOS and Windows offer no such
cheap look-up to an unprivileged process; there `can_tell()` is False.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from typing import Iterator, Optional, Tuple

Address = Tuple[str, int]
Entry = Tuple[int, int, int]  # the socket's (state, uid, inode), as the kernel says them

TABLES = {socket.AF_INET: "/proc/net/tcp", getattr(socket, "AF_INET6", -1): "/proc/net/tcp6"}
WILDCARDS = {socket.AF_INET: "0.0.0.0", getattr(socket, "AF_INET6", -1): "::"}
LISTEN = 10
# States of a socket a process may still hold (ESTABLISHED, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING):
# TIME_WAIT (6) and CLOSE (7) never have an owner.
HELD = frozenset((1, 4, 5, 8, 9, 11))

# netlink's sock_diag (linux/inet_diag.h): one request for one socket, by its addresses.
_NETLINK_SOCK_DIAG, _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, _NLMSG_ERROR = 4, 20, 1, 2
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_REQUEST = struct.Struct("=BBBBI")  # inet_diag_req_v2: family, protocol, extensions, pad, states
_SOCKID = struct.Struct("!HH16s16s")  # inet_diag_sockid: ports and addresses, in network order ...
_SOCKID_TAIL = struct.Struct("=III")  # ... then the interface and the cookie (none: ~0, ~0)
_MESSAGE = struct.Struct("=BBBB")  # inet_diag_msg: family, state, timer, retransmits, then a sockid
_MESSAGE_TAIL = struct.Struct("=IIIII")  # expires, read queue, write queue, uid, inode


def can_tell() -> bool:
    return sys.platform.startswith("linux") and os.path.exists(TABLES[socket.AF_INET])


def client_owner(sock: socket.socket) -> Optional[int]:
    """The uid holding the client end of `sock` (a socket this server accepted), or None when no live
    socket holds it (the client left, or closed its end already) or this system cannot tell."""
    if not can_tell():
        return None
    return _uid(_socket(sock.family, sock.getpeername()[:2], sock.getsockname()[:2]))


def server_owner(sock: socket.socket) -> Optional[int]:
    """The uid holding the server end of `sock` (a socket our client connected), or else the listener it
    reached (a connection the server has not accepted yet has no owner of its own); None when this
    system cannot tell."""
    if not can_tell():
        return None
    family, theirs = sock.family, sock.getpeername()[:2]
    uid = _uid(_socket(family, theirs, sock.getsockname()[:2]))
    return uid if uid is not None else _uid(_socket(family, theirs, None))


def _uid(entry: Optional[Entry]) -> Optional[int]:
    """The owner of a socket some process holds; None for one nobody holds (or none at all)."""
    if entry is None:
        return None
    state, uid, inode = entry
    return uid if inode and (state in HELD or state == LISTEN) else None


def _socket(family: int, local: Address, remote: Optional[Address]) -> Optional[Entry]:
    """The socket whose local address is `local` and remote `remote` (None: the listener on `local`'s
    port, at that address or every address)."""
    try:
        return _ask_netlink(family, local, remote)
    except OSError:  # no netlink here: the tables /proc prints
        return _read_table(family, local, remote)


def _ask_netlink(family: int, local: Address, remote: Optional[Address]) -> Optional[Entry]:
    """sock_diag's answer for one socket; its exact look-up finds a listener when no connection matches."""
    far = remote if remote is not None else (WILDCARDS[family], 0)
    request = (
        _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
        + _SOCKID.pack(local[1], far[1], _packed(family, local[0]), _packed(family, far[0]))
        + _SOCKID_TAIL.pack(0, 0xFFFFFFFF, 0xFFFFFFFF)
    )
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as netlink:
        netlink.settimeout(1.0)
        netlink.sendto(
            _HEADER.pack(_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0) + request, (0, 0)
        )
        answer = netlink.recv(8192)
    if len(answer) < _HEADER.size + _MESSAGE.size + _SOCKID.size + _SOCKID_TAIL.size + _MESSAGE_TAIL.size:
        return None  # NLMSG_ERROR: no such socket
    if _HEADER.unpack_from(answer)[1] == _NLMSG_ERROR:
        return None
    state = _MESSAGE.unpack_from(answer, _HEADER.size)[1]
    at = _HEADER.size + _MESSAGE.size + _SOCKID.size + _SOCKID_TAIL.size
    _, _, _, uid, inode = _MESSAGE_TAIL.unpack_from(answer, at)
    if remote is None and state != LISTEN:
        return None
    return state, uid, inode


def _packed(family: int, host: str) -> bytes:
    return socket.inet_pton(family, host.split("%", 1)[0]).ljust(16, b"\0")


def _read_table(family: int, local: Address, remote: Optional[Address]) -> Optional[Entry]:
    """The same answer from /proc/net/tcp{,6}: a live socket's line before a left-over's of the same
    addresses."""
    here = _entry(family, local)
    listening = {_entry(family, (host, local[1])) for host in (local[0], WILDCARDS[family])}
    there = _entry(family, remote) if remote is not None else None
    found: Optional[Entry] = None
    for fields in _lines(family):
        state = int(fields[3], 16)
        if remote is None:
            if state != LISTEN or fields[1] not in listening:
                continue
        elif fields[1] != here or fields[2] != there:
            continue
        entry = (state, int(fields[7]), int(fields[9]))
        if _uid(entry) is not None:
            return entry
        found = found or entry
    return found


def _lines(family: int) -> Iterator[list]:
    """The table's rows split into fields: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ..."""
    try:
        with open(TABLES[family]) as handle:
            text = handle.read()
    except (OSError, KeyError):
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
