"""Both sides: which OS user holds the other end of a loopback TCP connection.

Loopback is no boundary on a shared workstation or farm node: any user's process can connect, and any
user's process can hold a port our client dials. The server asks who holds the client's end
(`client_owner`); the client asks who holds the server's end, or the listener behind it (`server_owner`).
The answer is an Owner: ours, another user's (with who: 'uid 1002', a Windows SID), or cannot tell (why;
and whether this system never tells - `blind` - or only not for this socket).

- Linux: /proc/net/tcp (and tcp6) has a line per socket, naming its owner's uid while a process holds it.
  A TIME_WAIT line, or that of a socket its process closed, names uid 0 and inode 0: nobody's, never root's.
- Windows: the TCP table (GetExtendedTcpTable, TCP_TABLE_OWNER_PID_ALL; no administrator needed) names
  each connection's process, whose token names its user (a SID). A process that has exited, or that
  Windows will not let this user look at (another user's, or an elevated one): cannot tell. Wine's table
  names pid 0 for every socket, after seconds spent looking: under Wine, blind without asking.
- macOS: nothing names a socket's owner to an unprivileged process, but libproc lists the sockets of this
  user's own processes: a socket found there is ours; one not found is another user's (or has just gone).
- Elsewhere: blind.
"""

import socket
import struct
from typing import Callable, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from . import system

OURS, OTHERS, UNKNOWN = "ours", "another user's", "cannot tell"
INET6 = getattr(socket, "AF_INET6", -1)


class Owner(NamedTuple):
    state: str  # OURS, OTHERS or UNKNOWN
    detail: str = ""  # OTHERS: who ('uid 1002', 'S-1-5-21-...'); UNKNOWN: why
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
            with open(LINUX_TABLES[family], "rb") as handle:
                table = handle.read().decode("ascii", "replace")
            return linux_owner(table, family, wanted, system.uid())
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

LINUX_TABLES = {socket.AF_INET: "/proc/net/tcp", INET6: "/proc/net/tcp6"}
LINUX_LISTEN = "0A"
# States of a socket a process may still hold (ESTABLISHED, FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING;
# with its inode): TIME_WAIT (06) and CLOSE (07) never have an owner.
LINUX_HELD = frozenset(("01", "04", "05", "08", "09", "0B"))


def linux_owner(table: str, family: int, wanted: Wanted, uid: int) -> Owner:
    """The owner of the first `wanted` socket a line of /proc/net/tcp{,6} (`table`) names with its inode."""
    rows = [fields for fields in (line.split() for line in table.splitlines()[1:]) if len(fields) >= 10]
    for local, remote in wanted:
        local_entry, remote_entry = linux_entry(family, local), remote and linux_entry(family, remote)
        for fields in rows:
            if fields[1] != local_entry:
                continue
            if remote_entry is None:
                if fields[3] != LINUX_LISTEN:
                    continue
            elif fields[2] != remote_entry or fields[3] not in LINUX_HELD:
                continue
            if fields[9] == "0":  # no inode: no process holds this socket (yet, or any longer)
                continue
            return Owner(OURS) if int(fields[7]) == uid else Owner(OTHERS, "uid {}".format(int(fields[7])))
    return Owner(UNKNOWN, GONE)


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
            if sid == ours:
                return Owner(OURS)
            from .private import sid_string

            return Owner(OTHERS, sid_string(sid))
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
    return Owner(OURS)
