"""Both sides: which OS user holds the other end of a loopback TCP connection.

Loopback is no boundary on a shared workstation or farm node: any user's process can connect, and any
user's process can hold a port our client dials. The server asks who holds the client's end
(`client_owner`); the client asks who holds the server's end, or the listener behind it (`server_owner`).
The answer is an Owner: ours, another user's (with who: 'uid 1002', a Windows SID), or cannot tell (why;
and whether this system never tells - `blind` - or only not for this socket).

- Linux: the kernel names each socket's owner (uid) while a process holds it; asked for the one socket by
  netlink (sock_diag, as `ss` does: tens of microseconds, for any user), or where netlink is not allowed
  (some sandboxes) read from /proc/net/tcp (tens of milliseconds with thousands of sockets). A socket in
  TIME_WAIT, or one its process closed, has uid 0 and inode 0: nobody's, never root's.
- Windows: the TCP table (GetExtendedTcpTable, TCP_TABLE_OWNER_PID_ALL; no administrator needed) names
  each connection's process, whose token names its user (a SID). A process that has exited, or that
  Windows will not let this user look at (another user's, or an elevated one): cannot tell. Wine's table
  names pid 0 for every socket, after seconds spent looking: under Wine, blind without asking.
- macOS: nothing names a socket's owner to an unprivileged process, but libproc lists the sockets of this
  user's own processes: a socket found there is ours; one not found is another user's (or has just gone).
- Elsewhere: blind.
"""

import functools
import socket
import struct
from typing import Callable, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from hrpyc._oslayer import system

OURS, OTHERS, UNKNOWN = "ours", "another user's", "cannot tell"
INET6 = getattr(socket, "AF_INET6", -1)


class Owner(NamedTuple):
    state: str  # OURS, OTHERS or UNKNOWN
    detail: str = ""  # OURS, OTHERS: who ('uid 1002', 'S-1-5-21-...'); UNKNOWN: why
    blind: bool = False  # UNKNOWN because this system never says who holds a socket (Wine; no look-up)


Endpoint = Tuple[bytes, int]  # a packed address (4 or 16 bytes) and a port
Wanted = List[Tuple[Endpoint, Optional[Endpoint]]]  # (local, remote) of a socket; remote None: a listener
WILDCARDS = {socket.AF_INET: "0.0.0.0", INET6: "::"}
GONE = "no process holds it any more (it closed its end, or is gone)"
WINE = "Windows' table of connections names no process for it (pid 0)"


def client_owner(sock: socket.socket) -> Owner:
    """Who holds the client end of `sock`, a socket this server accepted."""
    return _look_up(
        sock.family, [(_endpoint(sock.family, sock.getpeername()), _endpoint(sock.family, sock.getsockname()))]
    )


def server_owner(sock: socket.socket) -> Owner:
    """Who holds the server end of `sock`, a socket our client connected, or else the listener it reached
    (a connection the server has not accepted yet has no owner of its own)."""
    family, peer = sock.family, sock.getpeername()
    wanted: Wanted = [(_endpoint(family, peer), _endpoint(family, sock.getsockname()))]
    wanted += [(_endpoint(family, (listening, peer[1])), None) for listening in (peer[0], WILDCARDS[family])]
    return _look_up(family, wanted)


def listener_owner(sock: socket.socket) -> Owner:
    """Who holds `sock`, a listening socket of this process: ours, unless this system cannot tell (a server
    asks at start whether its owner check can work here)."""
    return _look_up(sock.family, [(_endpoint(sock.family, sock.getsockname()), None)])


def _look_up(family: int, wanted: Wanted) -> Owner:
    try:
        if system.NAME == "linux":
            return linux_owner(functools.partial(_linux_socket, family), wanted, system.uid())
        if system.NAME == "windows":
            win32 = system.calls("win32")
            if win32.wine():
                return Owner(UNKNOWN, WINE, True)
            return windows_owner(win32.tcp_table(family), family, wanted, win32.process_user, win32.own_user())
        if system.NAME == "macos":
            darwin = system.calls("darwin")
            return macos_owner((macos_socket(info) for info in darwin.socket_infos()), wanted)
    except OSError as exc:
        return Owner(UNKNOWN, "the system's list of connections cannot be read ({})".format(exc.strerror or exc), True)
    return Owner(UNKNOWN, "this system does not say which user holds a connection", True)


def _endpoint(family: int, address: Tuple) -> Endpoint:  # type: ignore[type-arg]
    return socket.inet_pton(family, str(address[0]).split("%", 1)[0]), int(address[1])


# Linux ---------------------------------------------------------------------------------------------------

Entry = Tuple[int, int, int]  # a socket's (state, uid, inode), as the kernel says them
LINUX_LISTEN = 10
# States of a socket a process may still hold (ESTABLISHED, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING;
# with its inode): TIME_WAIT (6) and CLOSE (7) never have an owner (uid 0, inode 0: nobody's, never root's).
LINUX_HELD = frozenset((1, 4, 5, 8, 9, 11))
# netlink's sock_diag (linux/inet_diag.h): one request for one socket, by its addresses.
_SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, _NLMSG_ERROR = 20, 1, 2
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_REQUEST = struct.Struct("=BBBBI")  # inet_diag_req_v2: family, protocol, extensions, pad, states
_SOCKID = struct.Struct("!HH16s16s")  # inet_diag_sockid: ports and addresses, in network order ...
_SOCKID_TAIL = struct.Struct("=III")  # ... then the interface and the cookie (none: ~0, ~0)
_MESSAGE = struct.Struct("=BBBB")  # inet_diag_msg: family, state, timer, retransmits, then a sockid
_MESSAGE_TAIL = struct.Struct("=IIIII")  # expires, read queue, write queue, uid, inode


def linux_owner(find: Callable[[Endpoint, Optional[Endpoint]], Optional[Entry]], wanted: Wanted, uid: int) -> Owner:
    """The owner of the first `wanted` socket a process holds (`find(local, remote)`: its entry, or None)."""
    for local, remote in wanted:
        entry = find(local, remote)
        if entry is not None and entry[2] and (entry[0] in LINUX_HELD or entry[0] == LINUX_LISTEN):
            return Owner(OURS if entry[1] == uid else OTHERS, "uid {}".format(entry[1]))
    return Owner(UNKNOWN, GONE)


def _linux_socket(family: int, local: Endpoint, remote: Optional[Endpoint]) -> Optional[Entry]:
    """The kernel's entry for one socket: asked by netlink, else read from /proc/net/tcp{,6}."""
    linux = system.calls("linux")
    try:
        return linux_diag_entry(linux.sock_diag(linux_diag_request(family, local, remote)), remote is None)
    except OSError:  # no netlink here (some sandboxes)
        return linux_table_entry(linux.tcp_table(family), family, local, remote)


def linux_diag_request(family: int, local: Endpoint, remote: Optional[Endpoint]) -> bytes:
    """sock_diag's request for the socket at `local` connected to `remote` (None: the listener that takes
    connections to `local`, on that address or every address: the kernel's own look-up finds it)."""
    far = remote if remote is not None else (bytes(len(local[0])), 0)
    request = (
        _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
        + _SOCKID.pack(local[1], far[1], local[0].ljust(16, b"\0"), far[0].ljust(16, b"\0"))
        + _SOCKID_TAIL.pack(0, 0xFFFFFFFF, 0xFFFFFFFF)
    )
    return _HEADER.pack(_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0) + request


def linux_diag_entry(answer: bytes, listener: bool) -> Optional[Entry]:
    """The entry in sock_diag's `answer`; None for an error (no such socket), or a non-listener when a
    `listener` was asked for."""
    tail = _HEADER.size + _MESSAGE.size + _SOCKID.size + _SOCKID_TAIL.size
    if len(answer) < tail + _MESSAGE_TAIL.size or _HEADER.unpack_from(answer)[1] == _NLMSG_ERROR:
        return None
    state = _MESSAGE.unpack_from(answer, _HEADER.size)[1]
    uid, inode = _MESSAGE_TAIL.unpack_from(answer, tail)[3:]
    return None if listener and state != LINUX_LISTEN else (state, uid, inode)


def linux_table_entry(table: str, family: int, local: Endpoint, remote: Optional[Endpoint]) -> Optional[Entry]:
    """The same entry from /proc/net/tcp{,6}'s text (`remote` None: a listener on exactly `local`): a live
    socket's line before a left-over's of the same addresses."""
    here, there = linux_entry(family, local), remote and linux_entry(family, remote)
    found: Optional[Entry] = None
    for fields in (line.split() for line in table.splitlines()[1:]):
        if len(fields) < 10 or fields[1] != here or (there is not None and fields[2] != there):
            continue
        entry = (int(fields[3], 16), int(fields[7]), int(fields[9]))
        if there is None and entry[0] != LINUX_LISTEN:
            continue
        if entry[2] and (entry[0] in LINUX_HELD or entry[0] == LINUX_LISTEN):
            return entry
        found = found or entry
    return found


def linux_entry(family: int, endpoint: Endpoint) -> str:
    """An address as /proc/net/tcp{,6} prints it: its 32-bit words in host order, in hex, then the port."""
    packed, port = endpoint
    words = struct.unpack("={}I".format(len(packed) // 4), packed)
    return "{}:{:04X}".format("".join("{:08X}".format(word) for word in words), port)


# Windows -------------------------------------------------------------------------------------------------

# MIB_TCPROW_OWNER_PID and MIB_TCP6ROW_OWNER_PID, after the table's DWORD count: addresses as bytes in
# network order, ports as DWORDs whose first two bytes are the port in network order.
WINDOWS_ROWS = {socket.AF_INET: struct.Struct("<I4s2s2x4s2s2xI"), INET6: struct.Struct("<16s4x2s2x16s4x2s2xII")}
WINDOWS_LISTEN = 2  # MIB_TCP_STATE_LISTEN
# ESTABLISHED, FIN_WAIT1/2, CLOSE_WAIT, CLOSING, LAST_ACK: states a process may still hold a socket in
WINDOWS_HELD = frozenset((5, 6, 7, 8, 9, 10))
ERROR_ACCESS_DENIED, ERROR_INVALID_PARAMETER = 5, 87


def windows_rows(table: bytes, family: int) -> Iterator[Tuple[Endpoint, Endpoint, int, int]]:
    """(local, remote, state, pid) of each row of a GetExtendedTcpTable answer."""
    row = WINDOWS_ROWS[family]
    count = min(struct.unpack_from("<I", table)[0], (len(table) - 4) // row.size) if len(table) >= 4 else 0
    for index in range(count):
        fields = row.unpack_from(table, 4 + index * row.size)
        if family == socket.AF_INET:
            state, local, local_port, remote, remote_port, pid = fields
        else:
            local, local_port, remote, remote_port, state, pid = fields
        yield (local, _port(local_port)), (remote, _port(remote_port)), state, pid


def windows_owner(table: bytes, family: int, wanted: Wanted, user_of: Callable[[int], bytes], ours: bytes) -> Owner:
    """The owner of the first `wanted` socket the TCP table names a process for: that process's user
    (`user_of(pid)`: its token's SID, or OSError) compared with ours, as EqualSid compares them."""
    rows = list(windows_rows(table, family))
    unnamed = False
    for local, remote in wanted:
        for row_local, row_remote, state, pid in rows:
            if row_local != local:
                continue
            if remote is None:
                if state != WINDOWS_LISTEN:
                    continue
            elif row_remote != remote or state not in WINDOWS_HELD:
                continue
            if pid == 0:  # as Wine's table does for every socket; Windows' only for TIME_WAIT
                unnamed = True
                continue
            try:
                sid = user_of(pid)
            except OSError as exc:
                return Owner(UNKNOWN, _windows_why(pid, exc))
            from hrpyc._oslayer.private import sid_string

            return Owner(OURS if sid == ours else OTHERS, sid_string(sid))
    if unnamed:
        return Owner(UNKNOWN, WINE, True)
    return Owner(UNKNOWN, GONE)


def _windows_why(pid: int, exc: OSError) -> str:
    code = getattr(exc, "winerror", None)
    if code == ERROR_INVALID_PARAMETER:
        return "its process (pid {}) has exited".format(pid)
    if code == ERROR_ACCESS_DENIED:
        return (
            "Windows does not let this user look at its process (pid {}): another user's, or one run as "
            "administrator".format(pid)
        )
    return "its process (pid {}) cannot be looked at ({})".format(pid, exc)


def _port(network_order: bytes) -> int:
    return int.from_bytes(network_order, "big")


# macOS ---------------------------------------------------------------------------------------------------

# struct socket_fdinfo (sys/proc_info.h): proc_fileinfo (24 bytes), then socket_info: soi_kind at 232,
# soi_proto at 240, whose tcp_sockinfo starts with in_sockinfo: insi_fport (an int holding the port in
# network order) at +0, insi_lport +4, insi_vflag +24, insi_faddr +32, insi_laddr +48 (16 bytes each:
# IPv4 in the last 4), then tcpsi_state at +80.
MACOS_KIND, MACOS_PROTO = 24 + 232, 24 + 240
MACOS_SOCKINFO_TCP, MACOS_LISTEN = 2, 1  # SOCKINFO_TCP; TSI_S_LISTEN
MACOS_IPV4, MACOS_IPV6 = 0x1, 0x2  # insi_vflag: INI_IPV4, INI_IPV6


def macos_socket(info: bytes) -> Optional[Tuple[Endpoint, Endpoint, int]]:
    """(local, remote, state) of a PROC_PIDFDSOCKETINFO answer, if it is a TCP socket."""
    at = MACOS_PROTO
    if len(info) < at + 84 or struct.unpack_from("=i", info, MACOS_KIND)[0] != MACOS_SOCKINFO_TCP:
        return None
    vflag = info[at + 24]
    if not vflag & (MACOS_IPV4 | MACOS_IPV6):
        return None

    def address(offset: int) -> bytes:
        return info[offset : offset + 16] if vflag & MACOS_IPV6 else info[offset + 12 : offset + 16]

    local = (address(at + 48), _port(info[at + 4 : at + 6]))
    remote = (address(at + 32), _port(info[at : at + 2]))
    return local, remote, struct.unpack_from("=i", info, at + 80)[0]


def macos_owner(sockets: Iterable[Optional[Tuple[Endpoint, Endpoint, int]]], wanted: Wanted) -> Owner:
    """Ours when one of this user's processes holds a `wanted` socket (`sockets`: all they hold), else
    another user's - or a socket whose process has just gone, which macOS cannot tell apart. Seeing only
    our own sockets, a listener of ours on every address (0.0.0.0, ::) that stands in for a connection
    not accepted yet proves nothing: another user's listener on the very address would be in front of it."""
    best = len(wanted)
    for found in sockets:
        if found is None:
            continue
        found_local, found_remote, state = found
        for index, (local, remote) in enumerate(wanted[:best]):
            if found_local == local and (state == MACOS_LISTEN if remote is None else found_remote == remote):
                best = index
                break
        if best == 0:
            break
    if best == len(wanted):
        return Owner(OTHERS, "none of this user's processes holds it")
    if best and wanted[best][1] is None and not any(wanted[best][0][0]):
        return Owner(UNKNOWN, "the server has not taken the connection yet, and listens on every address")
    return Owner(OURS, "this user")
