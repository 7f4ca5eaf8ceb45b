"""Every OS difference, in hrpyc._oslayer: each OS's branch fed what that OS gives (a table's bytes, a
struct, an error number), so Linux, Windows and macOS are all tested on any machine; and each concern
also meets the real thing on the OS the tests run on."""

import errno
import io
import logging
import os
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import types

import pytest
from conftest import child_env, wait_for

import hrpyc
import hrpyc._auth.tokens
from hrpyc._common import userdir
from hrpyc._oslayer import console, folders, owner, private, process, sockets, system
from hrpyc._panel import model
from hrpyc._server.rpyc_hooks import BridgingServer

OURS_SID, THEIR_SID = "S-1-5-21-1004336348-1177238915-682003330-1001", "S-1-5-21-1004336348-1177238915-682003330-1002"
EVERYONE, USERS, CREATOR_OWNER = "S-1-1-0", "S-1-5-32-545", "S-1-3-0"
OBJECT_INHERIT, CONTAINER_INHERIT, INHERIT_ONLY = 0x1, 0x2, 0x8
FULL, READ_ONLY, WRITE_DATA = 0x1F01FF, 0x120089, 0x2


@pytest.fixture
def pretend(monkeypatch):
    """`pretend('windows', win32=fake)`: oslayer takes that OS's branch, and its calls into the OS are `fake`'s."""

    def pretend(name, **calls):
        monkeypatch.setattr(system, "NAME", name)
        for module, fake in calls.items():
            monkeypatch.setitem(sys.modules, "hrpyc._oslayer." + module, fake)

    return pretend


@pytest.fixture
def connection():
    """A listener on 127.0.0.1, a client connected to it, and the socket the listener accepted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    yield listener, client, accepted
    for sock in (client, accepted, listener):
        sock.close()


def sid(text):
    """A SID's bytes, as Windows lays them out, from its string: S-1-5-21-..."""
    revision, authority, *subs = (int(part) for part in text.split("-")[1:])
    return bytes((revision, len(subs))) + authority.to_bytes(6, "big") + struct.pack("<{}I".format(len(subs)), *subs)


def acl(*aces):
    """An ACL's bytes: its header, then each (AceType, AceFlags, mask, SID string[, object flags]) entry."""
    body = b""
    for kind, flags, mask, who, *object_flags in aces:
        data = struct.pack("<I", mask)
        if object_flags:  # an object ACE: its Flags, then a GUID for each bit set
            data += struct.pack("<I", object_flags[0]) + b"\x5a" * 16 * bin(object_flags[0]).count("1")
        data += sid(who)
        body += struct.pack("<BBH", kind, flags, 4 + len(data)) + data
    return struct.pack("<BBHHH", 2, 0, 8 + len(body), len(aces), 0) + body


def _port(number):
    return struct.pack(">H", number) + b"\xaa\xbb"  # a DWORD in network order; its upper half is undefined


def tcp_table(family, *rows):
    """A GetExtendedTcpTable(TCP_TABLE_OWNER_PID_ALL) answer: rows of (local, remote, MIB state, pid)."""
    data = struct.pack("<I", len(rows))
    for (local_host, local_port), (remote_host, remote_port), state, pid in rows:
        local, remote = socket.inet_pton(family, local_host), socket.inet_pton(family, remote_host)
        if family == socket.AF_INET:  # MIB_TCPROW_OWNER_PID
            data += struct.pack("<I", state) + local + _port(local_port) + remote + _port(remote_port)
        else:  # MIB_TCP6ROW_OWNER_PID: scope ids after the addresses, the state after the remote port
            data += local + b"\0" * 4 + _port(local_port) + remote + b"\0" * 4 + _port(remote_port)
            data += struct.pack("<I", state)
        data += struct.pack("<I", pid)
    return data


def socket_fdinfo(local, remote, state, kind=2):
    """A PROC_PIDFDSOCKETINFO answer (struct socket_fdinfo): proc_fileinfo (24 bytes), then socket_info
    with soi_kind at 232 and its tcp_sockinfo at 240: insi_fport, insi_lport, insi_vflag at +24,
    insi_faddr at +32, insi_laddr at +48, tcpsi_state at +80."""
    info, proto = bytearray(792), 24 + 240
    struct.pack_into("=i", info, 24 + 232, kind)
    v6 = ":" in local[0]
    info[proto + 24] = 0x2 if v6 else 0x1
    for (host, port), port_at, address_at in ((remote, 0, 32), (local, 4, 48)):
        info[proto + port_at : proto + port_at + 2] = struct.pack(">H", port)
        packed = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, host)
        info[proto + address_at + 16 - len(packed) : proto + address_at + 16] = packed
    struct.pack_into("=i", info, proto + 80, state)
    return bytes(info)


class FakeWindows(types.SimpleNamespace):
    """hrpyc._oslayer.win32 as Windows answers for this user (OURS_SID): a TCP table, processes and their
    users, folders with access lists (made owner-only unless told otherwise)."""

    def __init__(self, rows=(), users=None, dacl=None, documents=None):
        super().__init__(rows=list(rows), users=dict(users or {}), dacl=dacl, documents=documents, made=[])

    def tcp_table(self, family):
        return tcp_table(family, *[row for row in self.rows if (":" in row[0][0]) == (family != socket.AF_INET)])

    def process_user(self, pid):
        user = self.users[pid]
        if isinstance(user, int):
            raise winerror(user)
        return sid(user)

    def own_user(self):
        return sid(OURS_SID)

    def wine(self):
        return False

    def make_folder(self, path, sddl):
        self.made.append(sddl)
        os.makedirs(path, exist_ok=True)

    def create_file(self, path, sddl):
        self.made.append(sddl)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def security(self, target):
        return sid(OURS_SID), self.dacl if self.dacl is not None else acl((0, 0, FULL, OURS_SID))

    def creation_time(self, pid):
        return 133000000000000000 + pid

    def exit_code(self, pid):
        return 259

    def documents_folder(self):
        return self.documents


def winerror(code):
    """The OSError a failed Windows call raises (OSError sets winerror itself on Windows alone)."""
    error = OSError(None, "Windows error {}".format(code))
    error.winerror = code
    return error


def _address(sock, peer=False):
    return (sock.getpeername() if peer else sock.getsockname())[:2]


# The peer's owner ------------------------------------------------------------------------------------------


def diag_answer(state, uid, inode, error=False):
    """sock_diag's answer (linux/inet_diag.h): nlmsghdr, then inet_diag_msg - or NLMSG_ERROR."""
    if error:
        return struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -2) + bytes(16)
    message = struct.pack("=BBBB", socket.AF_INET, state, 0, 0) + struct.pack("!HH16s16s", 1, 2, bytes(16), bytes(16))
    message += struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF) + struct.pack("=IIIII", 0, 0, 0, uid, inode)
    return struct.pack("=IHHII", 16 + len(message), 20, 0, 1, 0) + message


def test_linux_names_a_sockets_owner_only_while_a_process_holds_it(connection, pretend, monkeypatch):
    """The kernel's entry for the one socket, asked by netlink - or, where netlink is not allowed, read
    from /proc/net/tcp's lines, as Linux writes them: a held socket names its owner; a TIME_WAIT left-over
    and an orphaned FIN_WAIT2 (uid 0, inode 0) mean 'cannot tell', never root; the listener answers for
    the server's end while it has not been accepted yet."""
    listener, client, accepted = connection
    monkeypatch.setattr(system, "uid", lambda: 1000)  # we are uid 1000, on any OS
    them = 1001
    answers = []
    linux = types.SimpleNamespace(sock_diag=lambda request: answers.pop(0), tcp_table=None)
    pretend("linux", linux=linux)
    answers[:] = [diag_answer(1, them, 4242)]
    assert owner.client_owner(accepted) == (owner.OTHERS, "uid {}".format(them), False)
    answers[:] = [diag_answer(6, 0, 0)]  # TIME_WAIT
    assert owner.client_owner(accepted) == (owner.UNKNOWN, owner.GONE, False)
    answers[:] = [diag_answer(0, 0, 0, error=True), diag_answer(10, system.uid(), 77)]  # not accepted yet
    assert owner.server_owner(client) == (owner.OURS, "uid {}".format(system.uid()), False)
    request = owner.linux_diag_request(socket.AF_INET, (socket.inet_aton("127.0.0.1"), 50000), None)
    assert request[16:20] == bytes((socket.AF_INET, socket.IPPROTO_TCP, 0, 0)) and request[24:26] == b"\xc3\x50"

    def no_netlink(request):
        raise PermissionError("netlink is not allowed here")  # as in some sandboxes: /proc is read instead

    entry = lambda sock: owner.linux_entry(socket.AF_INET, (socket.inet_aton(sock[0]), sock[1]))  # noqa: E731
    ours, theirs = entry(_address(client)), entry(_address(listener))
    rest = "00000000:00000000 00:00000000 00000000 {uid:>5} 0 {inode} 1 0000000000000000 20 4 0 10 -1"
    live = "{} {} 01 " + rest
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    table = lambda *rows: head + "".join("   {}: {}\n".format(i, row) for i, row in enumerate(rows))  # noqa: E731
    linux.sock_diag = no_netlink
    linux.tcp_table = lambda family: table(live.format(ours, theirs, uid=them, inode=4242))
    assert owner.client_owner(accepted).detail == "uid {}".format(them)
    linux.tcp_table = lambda family: table(live.replace(" 01 ", " 06 ").format(ours, theirs, uid=0, inode=0))
    assert owner.client_owner(accepted) == (owner.UNKNOWN, owner.GONE, False)
    linux.tcp_table = lambda family: table(live.replace(" 01 ", " 05 ").format(ours, theirs, uid=0, inode=0))
    assert owner.client_owner(accepted).state == owner.UNKNOWN
    listening = "{} 00000000:0000 0A ".format(theirs) + rest
    pending = (live.format(theirs, ours, uid=0, inode=0), listening.format(uid=system.uid(), inode=77))
    linux.tcp_table = lambda family: table(*pending)
    assert owner.server_owner(client).state == owner.OURS

    def no_proc(family):
        raise FileNotFoundError(2, "No such file or directory")

    linux.tcp_table = no_proc
    assert owner.client_owner(accepted).blind


def test_windows_names_the_user_whose_process_holds_the_socket(connection, pretend):
    """The TCP table names the process at each end (its ports as DWORDs in network order); that process's
    token names its user. Wine's table names pid 0: cannot tell, and never will here (blind)."""
    listener, client, accepted = connection
    client_end, server_end = _address(client), _address(accepted)
    rows = [(client_end, server_end, 5, 100), (server_end, client_end, 5, 200)]
    windows = FakeWindows(rows, users={100: OURS_SID, 200: THEIR_SID})
    pretend("windows", win32=windows)
    assert owner.client_owner(accepted) == (owner.OURS, OURS_SID, False)
    assert owner.server_owner(client) == (owner.OTHERS, THEIR_SID, False)  # a squatter of another user's
    for user, why in ((87, "has exited"), (5, "does not let this user look")):  # the winerror of OpenProcess
        windows.users[100] = user
        found = owner.client_owner(accepted)
        assert found.state == owner.UNKNOWN and why in found.detail and not found.blind
    windows.rows = [(client_end, server_end, 5, 0), (server_end, client_end, 5, 0)]  # as Wine's table has it
    assert owner.client_owner(accepted) == (owner.UNKNOWN, owner.WINE, True)
    windows.wine, windows.tcp_table = (lambda: True), None  # Wine itself: not asked (its table takes seconds)
    assert owner.client_owner(accepted) == (owner.UNKNOWN, owner.WINE, True)
    del windows.wine, windows.tcp_table
    windows.rows = [(client_end, server_end, 11, 0)]  # TIME_WAIT: nobody's
    assert owner.client_owner(accepted) == (owner.UNKNOWN, owner.GONE, False)
    listening = (_address(listener), ("0.0.0.0", 0), 2, 100)
    windows.users[100] = OURS_SID
    windows.rows = [listening]  # the server has not accepted it yet: its listener answers
    assert owner.server_owner(client).state == owner.OURS
    windows.rows = [(("0.0.0.0", listening[0][1]), ("0.0.0.0", 0), 2, 100), (listening[0], ("0.0.0.0", 0), 2, 200)]
    assert owner.server_owner(client).state == owner.OTHERS  # a listener on the very address is in front of ours


def test_windows_reads_the_ipv6_table_too(pretend):
    windows = FakeWindows([(("::1", 50000), ("::1", 18811), 5, 100)], users={100: THEIR_SID})
    wanted = [((socket.inet_pton(socket.AF_INET6, "::1"), 50000), (socket.inet_pton(socket.AF_INET6, "::1"), 18811))]
    table = windows.tcp_table(socket.AF_INET6)
    assert (
        owner.windows_owner(table, socket.AF_INET6, wanted, windows.process_user, sid(OURS_SID)).state == owner.OTHERS
    )
    assert list(owner.windows_rows(table[:-10], socket.AF_INET6)) == []  # a short answer: no half rows


def test_macos_a_socket_is_ours_when_one_of_this_users_processes_holds_it(connection, pretend):
    """libproc shows an unprivileged process only its own user's processes' sockets: found there is ours,
    not found is another user's; a listener of ours on every address cannot vouch for a connection not
    accepted yet, as another user's listener on the very address would be in front of it."""
    listener, client, accepted = connection
    client_end, server_end = _address(client), _address(accepted)
    held = []
    pretend("macos", darwin=types.SimpleNamespace(socket_infos=lambda: iter(held)))
    held[:] = [socket_fdinfo(client_end, server_end, 4), socket_fdinfo(server_end, client_end, 4, kind=1)]
    assert owner.client_owner(accepted).state == owner.OURS
    assert owner.server_owner(client) == (owner.OTHERS, "none of this user's processes holds it", False)
    held[:] = [socket_fdinfo(_address(listener), ("0.0.0.0", 0), 1)]
    assert owner.server_owner(client).state == owner.OURS
    held[:] = [socket_fdinfo(("0.0.0.0", listener.getsockname()[1]), ("0.0.0.0", 0), 1)]
    assert owner.server_owner(client).state == owner.UNKNOWN
    local, remote = ("::1", 50000), ("::1", 18811)
    found = owner.macos_socket(socket_fdinfo(local, remote, 4))
    assert found == (
        (socket.inet_pton(socket.AF_INET6, "::1"), 50000),
        (socket.inet_pton(socket.AF_INET6, "::1"), 18811),
        4,
    )


def test_elsewhere_no_one_can_tell(connection, pretend):
    pretend("other")
    assert owner.client_owner(connection[2]).blind


def test_this_system_names_our_own_sockets_ours(connection):
    """The real look-up, on the OS the tests run on: both ends of a connection of this process, and its
    listener, are this user's - except under Wine, whose TCP table names no process (pid 0)."""
    listener, client, accepted = connection
    for found in (owner.client_owner(accepted), owner.server_owner(client), owner.listener_owner(listener)):
        assert found.state == owner.OURS or (_wine() and found == (owner.UNKNOWN, owner.WINE, True)), found
    if sys.platform == "win32":  # Windows' own table and token, read for real (Wine's names pid 0, mostly)
        win32 = system.calls("win32")
        rows = list(owner.windows_rows(_whole_tcp_table(win32), socket.AF_INET))
        ends = {(socket.inet_aton(host), port) for host, port in (_address(client), _address(accepted))}
        pids = [pid for local, _, _, pid in rows if local in ends]  # both ends, and the listener
        assert len(pids) == 3 and set(pids) <= ({0, os.getpid()} if _wine() else {os.getpid()}), rows
        assert win32.process_user(os.getpid()) == win32.own_user()
    if sys.platform.startswith("linux"):  # the kernel's answer once the client has closed its end: nobody's
        client.close()
        wait_for(lambda: owner.client_owner(accepted).state == owner.UNKNOWN, what="the closed end to have no owner")


def _whole_tcp_table(win32):
    """The machine's IPv4 table. Wine builds it from Linux's /proc/net/tcp, and says ERROR_OUTOFMEMORY (14)
    when that changes as it reads (the other CI rows open and close sockets by the thousand): read again."""
    for attempt in range(20):
        try:
            return win32.tcp_table(socket.AF_INET)
        except OSError as exc:
            if not (_wine() and exc.winerror == 14) or attempt == 19:
                raise
            time.sleep(0.05)


def _wine():
    if sys.platform != "win32":
        return False
    import ctypes

    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


def test_a_server_refuses_whom_the_system_cannot_name_unless_a_credential_is_all_it_has(pretend, caplog, monkeypatch):
    """Where the system never says who connected (Wine; an OS with no look-up), a server with no credential
    refuses every local client, says so at start and in each refusal, naming the opt-out; with a token
    the token is what keeps other users out, and the panel says which protection holds."""
    pretend("other")
    monkeypatch.delenv("HRPYC_ALLOW_OTHER_USERS", raising=False)  # the Wine row's default (conftest)
    with caplog.at_level(logging.INFO, logger="hrpyc"):
        bare = hrpyc.Server("127.0.0.1", 0).start()
        try:
            assert bare.protection == "refuse local" and "every client on this machine will be refused" in caplog.text
            assert "no process on this machine" in model.status(bare, "")[1]
            with pytest.raises(hrpyc.HrpycError):
                hrpyc.connect(*bare.address)
            wait_for(lambda: "cannot tell which user connected" in caplog.text, what="the refusal")
            assert "allow_other_users lets in any local user's process" in caplog.text
        finally:
            bare.stop()
        guarded = hrpyc.Server("127.0.0.1", 0, token="s3cret-for-this-test").start()
        try:
            assert guarded.protection == "credential only" and "any user's processes" in model.status(guarded, "")[1]
            conn = hrpyc.connect(*guarded.address, token="s3cret-for-this-test")
            assert conn.modules.os.getpid() == os.getpid()
            conn.close()
        finally:
            guarded.stop()


def test_the_panel_says_which_protection_is_active(local_server):
    assert local_server.protection == "owner" or _wine()
    if local_server.protection == "owner":
        assert "this user's processes only" in model.status(local_server, "")[1]
    other = hrpyc.Server("127.0.0.1", 0, allow_other_users=True).start()
    try:
        assert other.protection == "credential only" and "any user's processes" in model.status(other, "")[1]
    finally:
        other.stop()


def test_our_client_refuses_a_server_another_windows_user_holds(local_server, pretend):
    """A squatter on a port we dial, as Windows' table and the squatter's token name it: nothing is sent."""
    host, port = local_server.address
    windows = FakeWindows(users={100: OURS_SID, 200: THEIR_SID})
    windows.tcp_table = lambda family: tcp_table(family, ((host, port), ("0.0.0.0", 0), 2, 200))
    pretend("windows", win32=windows)
    with pytest.raises(hrpyc.NotYourServerError, match="belongs to another user \\({}\\)".format(THEIR_SID)):
        hrpyc.connect(host, port)
    assert local_server.clients() == []


# Process start time and liveness -------------------------------------------------------------------------


def test_a_process_start_is_read_as_each_os_counts_it(pretend):
    """Linux: /proc/PID/stat's field 22, after a command name that may hold ') '; Windows: the creation
    FILETIME; macOS: proc_bsdinfo's pbi_start_tvsec and pbi_start_tvusec, at 120."""
    assert process.linux_started("4242 (a) b) S 1 4242 4242 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 987654 9") == "987654"
    assert process.linux_started("4242 (gone") is None
    bsd = bytearray(136)
    struct.pack_into("=QQ", bsd, 120, 1700000000, 42)
    assert process.macos_started(bytes(bsd)) == "1700000000.000042"
    pretend("macos", darwin=types.SimpleNamespace(bsd_info=lambda pid: bytes(bsd)))
    assert process.started(4242) == "1700000000.000042"
    windows = FakeWindows()
    pretend("windows", win32=windows)
    assert process.started(4242) == "133000000000004242" and process.alive(4242)
    windows.exit_code = lambda pid: 0  # exited, its handle still open somewhere
    assert not process.alive(4242)
    for code, alive in ((87, False), (5, True)):  # no such process; another user's

        def refused(pid, code=code):
            raise winerror(code)

        windows.exit_code = windows.creation_time = refused
        assert process.alive(4242) is alive and process.started(4242) is None


def test_this_system_tells_a_process_from_one_that_got_its_pid_later():
    """The real count on the OS the tests run on: ours is stable, another process's differs; a process
    that ended is not alive."""
    assert process.started(os.getpid()) == process.started(os.getpid()) is not None
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        wait_for(lambda: process.started(child.pid) is not None, what="the child's start time")
        assert process.started(child.pid) != process.started(os.getpid()) and process.alive(child.pid)
    finally:
        child.communicate(b"")
    assert not process.alive(child.pid)


# The private folder ----------------------------------------------------------------------------------------


def _stat(mode, uid=0):
    return os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))


def test_posix_owner_and_mode_keep_the_folder_ours():
    """Linux and macOS alike: this user's, and no one else may write (the token: read)."""
    check = private.posix_problem
    assert check("/s", _stat(stat.S_IFDIR | 0o700, 501), 501, folder=True) is None
    assert check("/s", _stat(stat.S_IFDIR | 0o777, 501), 501, folder=True) == (
        "is open to other users (mode 777)",
        "chmod 700 /s",
    )
    token = _stat(stat.S_IFREG | 0o644, 501)
    assert check("/s/token", token, 501, folder=False) is None  # a record others may read
    assert check("/s/token", token, 501, folder=False, secret=True)[1] == "chmod 600 /s/token"
    assert check("/s", _stat(stat.S_IFDIR | 0o700, 502), 501, folder=True)[0] == "belongs to another user (uid 502)"
    assert check("/s", _stat(stat.S_IFLNK | 0o777, 501), 501, folder=True)[0] == "is a symbolic link"
    assert check("/s", _stat(stat.S_IFREG | 0o700, 501), 501, folder=True)[0] == "is not a folder"


def test_windows_access_lists_say_who_may_change_the_folder_or_read_the_token():
    """Only we, SYSTEM and the Administrators may write (for the token: read); an entry that applies only
    to what is made inside (CREATOR OWNER's) does not count; no access list at all is open to everyone."""
    folder, token, ours = _stat(stat.S_IFDIR), _stat(stat.S_IFREG), sid(OURS_SID)

    def problem(entries, status=folder, secret=False, owner_sid=OURS_SID):
        dacl = acl(*entries) if entries is not None else None
        return private.windows_problem(r"C:\s", status, sid(owner_sid), dacl, ours, status is folder, secret)

    made = [(0, OBJECT_INHERIT | CONTAINER_INHERIT, FULL, OURS_SID)]  # what make_folder asks for
    inherited = made + [(0, 0x10, FULL, "S-1-5-18"), (0, 0x10, FULL, "S-1-5-32-544")]  # %LOCALAPPDATA%'s
    assert problem(made) is None and problem(inherited) is None
    assert problem(inherited + [(0, INHERIT_ONLY | OBJECT_INHERIT, FULL, CREATOR_OWNER)]) is None
    assert problem(inherited + [(1, 0, FULL, EVERYONE)]) is None  # a deny entry takes nothing away
    why, fix = problem(inherited + [(0, 0, WRITE_DATA, EVERYONE), (0, 0, READ_ONLY | 0x4, USERS)])
    assert why == "is open to other users: Everyone (S-1-1-0), Users (S-1-5-32-545) may change it"
    assert fix == r'icacls "C:\s" /inheritance:d /remove:g *S-1-1-0 *S-1-5-32-545'
    assert problem(made + [(0, 0, READ_ONLY, USERS)], token) is None  # a record others may read
    assert "may read or change it" in problem(made + [(0, 0, READ_ONLY, USERS)], token, secret=True)[0]
    assert problem(made + [(5, 0, FULL, THEIR_SID, 3)])[0].endswith("{} may change it".format(THEIR_SID))  # object ACE
    assert problem(made, owner_sid=THEIR_SID) == ("belongs to another user ({})".format(THEIR_SID), "remove it")
    assert problem(None) == ("is open to everyone (it has no access list)",
                             'icacls "C:\\s" /inheritance:r /grant:r "%USERNAME%:(OI)(CI)F"')  # fmt: skip
    junction = types.SimpleNamespace(st_mode=stat.S_IFDIR, st_file_attributes=0x400)  # FILE_ATTRIBUTE_REPARSE_POINT
    assert (
        private.windows_problem("C:\\s", junction, ours, acl(*made), ours, True)[0] == "is a symbolic link or junction"
    )
    assert private.sid_string(sid(OURS_SID)) == OURS_SID and private.sid_string(b"\x01") == "?"


def test_on_windows_the_folder_is_made_for_this_user_alone_and_an_open_one_refused(pretend, tmp_path, monkeypatch):
    windows = FakeWindows()
    pretend("windows", win32=windows)
    assert hrpyc._auth.tokens.auto_token()
    assert windows.made == ["O:{0}D:P(A;OICI;FA;;;{0})".format(OURS_SID), "O:{0}D:P(A;;FA;;;{0})".format(OURS_SID)]
    windows.dacl = acl((0, 0, FULL, OURS_SID), (0, OBJECT_INHERIT | CONTAINER_INHERIT, 0x1301BF, "S-1-5-11"))
    monkeypatch.setenv("HRPYC_STATE_DIR", str(tmp_path / "ProgramData"))
    with pytest.raises(hrpyc.UnsafeFileError) as caught:
        hrpyc.Server("127.0.0.1", 0)
    assert "Authenticated Users (S-1-5-11) may change it" in str(caught.value) and "icacls" in str(caught.value)


def test_this_systems_private_folder_is_closed_to_other_users(tmp_path):
    """The real thing, on the OS the tests run on: the folder and token hrpyc makes pass its own check
    and are closed to others (POSIX: modes 700 and 600; Windows: access lists naming only us - and
    SYSTEM under Wine, whose lists are the Unix modes); a folder, or a token, open to others is refused."""
    token = hrpyc._auth.tokens.auto_token()
    folder = userdir.checked_state_dir()
    assert token and userdir.read_private(os.path.join(folder, "token"), secret=True) == token
    opened = str(tmp_path / "open")
    if sys.platform == "win32":
        win32 = system.calls("win32")
        for made in (folder, os.path.join(folder, "token")):
            users = {entry.sid for entry in private.acl_entries(win32.security(made)[1])}
            assert users - {private.SYSTEM_SID} == {private.sid_string(win32.own_user())}, (made, users)
        win32.make_folder(opened, "D:P(A;OICI;FA;;;WD)")  # Everyone: full control (Wine: what a mode can say)
        if not _wine():
            with pytest.raises(hrpyc.UnsafeFileError, match="Everyone"):
                userdir.private_folder(opened)
    else:
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(os.path.join(folder, "token")).st_mode) == 0o600
        os.makedirs(opened)
        os.chmod(opened, 0o777)
        with pytest.raises(hrpyc.UnsafeFileError, match="open to other users"):
            userdir.private_folder(opened)
        os.chmod(opened, 0o755)
    readable = os.path.join(opened, "token")
    with open(readable, "w") as handle:  # as any program writes a file: others may read it
        handle.write("not a secret any more")
    os.chmod(readable, 0o644)  # (POSIX; on Windows the file has what the folder hands down)
    with pytest.raises(hrpyc.UnsafeFileError, match="open to other users"):
        userdir.read_private(readable, secret=True)


@pytest.mark.parametrize("name, waits", [("windows", True), ("linux", False), ("macos", False)])
def test_a_file_another_process_holds_for_a_moment_is_read_once_it_lets_go_on_windows(
    pretend, monkeypatch, tmp_path, name, waits
):
    """Windows refuses a file another process has open unshared, or is deleting (a server making the token
    as another reads it, an antivirus scanning it), until it lets go; elsewhere a refusal is final."""
    path = tmp_path / "token"
    path.write_text("s3cret-for-this-test")
    pretend(name)
    monkeypatch.setattr(private, "file_problem", lambda fd, path, secret: None)  # opening is what is tested
    refusals, real_open = [PermissionError(13, "Permission denied")] * 2, os.open

    def busy_open(*args):
        if refusals:
            raise refusals.pop()
        return real_open(*args)

    monkeypatch.setattr(os, "open", busy_open)
    if waits:
        assert userdir.read_private(str(path), secret=True) == "s3cret-for-this-test"
    else:
        with pytest.raises(hrpyc.UnsafeFileError, match="Permission denied"):
            userdir.read_private(str(path), secret=True)


# Houdini's preference folder -------------------------------------------------------------------------------


def test_houdinis_preference_folder_is_where_houdini_looks_on_each_os(pretend):
    """Windows: %HOME%\\houdiniX.Y when HOME is set, else the Documents known folder (often on OneDrive),
    else %USERPROFILE%\\Documents; macOS ~/Library/Preferences/houdini/X.Y; Linux ~/houdiniX.Y;
    HOUDINI_USER_PREF_DIR wherever it is set."""
    onedrive = r"C:\Users\td\OneDrive - Studio\Documents"
    assert folders.windows_pattern(r"H:\home", lambda: onedrive, r"C:\Users\td")[0] == r"H:\home\houdini__HVER__"
    pattern, why = folders.windows_pattern("", lambda: onedrive, r"C:\Users\td")
    assert pattern == onedrive + r"\houdini__HVER__" and "Documents" in why

    def unanswered():
        raise OSError("no shell")

    pattern, why = folders.windows_pattern("", unanswered, r"C:\Users\td")
    assert pattern == r"C:\Users\td\Documents\houdini__HVER__" and "%USERPROFILE%" in why
    assert folders.posix_pattern("macos", "/Users/td")[0] == "/Users/td/Library/Preferences/houdini/__HVER__"
    assert folders.posix_pattern("linux", "/home/td")[0] == "/home/td/houdini__HVER__"
    assert folders.preference_pattern("/h__HVER__", ("", "")) == ("/h__HVER__", "HOUDINI_USER_PREF_DIR is set")
    pretend("windows", win32=FakeWindows(documents=onedrive))
    assert folders.preference_pattern("", ("", r"C:\Users\td"))[0] == onedrive + r"\houdini__HVER__"


# Sockets ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, numbers",
    [
        ("linux", dict(reserved=None, in_use=98, reset=104, aborted=103, files=24, buffers=105, interrupted=4)),
        ("macos", dict(reserved=None, in_use=48, reset=54, aborted=53, files=24, buffers=55, interrupted=4)),
        ("windows", dict(reserved=10013, in_use=10048, reset=10054, aborted=10053, files=10024, buffers=10055,
                         interrupted=10004)),
    ],
)  # fmt: skip
def test_each_os_error_number_means_what_that_os_means(pretend, name, numbers):
    pretend(name)
    assert sockets.bind_error(numbers["in_use"]) == sockets.IN_USE
    assert sockets.bind_error(13) is None  # POSIX: a port below 1024; on Windows 13 is no socket error
    if numbers["reserved"]:
        assert sockets.bind_error(numbers["reserved"]) == sockets.RESERVED
    for transient in ("reset", "aborted", "interrupted"):
        assert sockets.accept_error(numbers[transient]) == sockets.RETRY, transient
    for scarce in ("files", "buffers"):
        assert sockets.accept_error(numbers[scarce]) == sockets.BACK_OFF, scarce
    assert sockets.accept_error(9) is None and sockets.accept_error(10038) is None  # EBADF, WSAENOTSOCK


def test_the_numbers_named_are_this_systems():
    """What the table says of the OS the tests run on is what its errno module says (Windows: its WSA codes)."""
    prefix = "WSA" if sys.platform == "win32" else ""
    for name, number in sockets.numbers().items():
        spelled = prefix + ("EWOULDBLOCK" if prefix and name == "EAGAIN" else name)
        assert getattr(errno, spelled, number) == number, name


@pytest.mark.parametrize("name", ["linux", "macos", "windows"])
def test_the_accept_loop_survives_every_transient_accept_error(pretend, name):
    """A client that reset or gave up before it was accepted, an interrupted call, running out of
    descriptors or buffers: as each OS numbers them, the loop goes on and accepts the next client."""
    pretend(name)
    table = sockets.ERRNOS[name]
    failures = [table[e] for e in ("ECONNRESET", "ECONNABORTED", "EINTR", "EMFILE", "ENOBUFS", "EAGAIN")]
    real = socket.socket()
    real.bind(("127.0.0.1", 0))
    real.listen(1)
    client = socket.create_connection(real.getsockname())

    class Listener(object):
        def accept(self):
            if failures:
                number = failures.pop(0)
                raise OSError(number, os.strerror(number) if number < 200 else "Winsock error")
            return real.accept()

    accepted = []
    server = BridgingServer.__new__(BridgingServer)
    server.active, server.listener, server.clients = True, Listener(), set()
    server.logger = logging.getLogger("hrpyc.test")
    server._accept_method = accepted.append
    server.accept()
    assert failures == [] and len(accepted) == 1
    server.listener.accept = lambda: (_ for _ in ()).throw(OSError(9, "Bad file descriptor"))
    with pytest.raises(OSError):
        server.accept()  # the listener itself failed: the server says why it ended
    for sock in (*accepted, client, real):
        sock.close()


def test_a_port_windows_reserves_is_a_port_in_use_error_naming_netsh_and_autostart_moves_past_it(pretend, monkeypatch):
    from conftest import free_port

    import hrpyc._server.binding
    from hrpyc._server import autostart

    pretend("windows", win32=FakeWindows())
    reserved = free_port()
    real = hrpyc._server.binding.ListeningServer

    def listening(service, host, port, *args, **kwargs):
        if port == reserved:
            raise OSError(10013, "An attempt was made to access a socket in a way forbidden by its access permissions")
        return real(service, host, port, *args, **kwargs)

    monkeypatch.setattr(hrpyc._server.binding, "ListeningServer", listening)
    monkeypatch.setattr(sockets, "listener_options", lambda: [])  # no SO_EXCLUSIVEADDRUSE off Windows
    with pytest.raises(hrpyc.PortInUseError) as caught:
        hrpyc.Server("127.0.0.1", reserved)
    message = str(caught.value)
    assert "netsh int ipv4 show excludedportrange protocol=tcp" in message and "port=0" in message
    assert "\n" not in message and caught.value.errno == 10013
    monkeypatch.setenv("HRPYC_AUTOSTART", "1")
    monkeypatch.setenv("HRPYC_ALLOW_OTHER_USERS", "1")  # the fake table names no listener
    monkeypatch.setenv("HRPYC_PORT", "{}-{}".format(reserved, reserved + 1))
    try:
        started = autostart._start()
        assert started is not None and started.address[1] == reserved + 1
    except hrpyc.PortInUseError:  # reserved + 1 was taken by something else meanwhile: not this test's point
        pass


def test_on_windows_a_listener_holds_its_port_exclusively(pretend, monkeypatch):
    """SO_EXCLUSIVEADDRUSE on Windows (SO_REUSEADDR there lets another socket bind over our port): the
    listener rpyc bound is replaced by one bound to the same address with the option set first."""
    pretend("windows")
    assert sockets.listener_options() == [(socket.SOL_SOCKET, sockets.SO_EXCLUSIVEADDRUSE, 1)]
    assert sockets.SO_EXCLUSIVEADDRUSE == -5  # ~SO_REUSEADDR, as winsock2.h has it
    pretend("linux")
    assert sockets.listener_options() == []
    monkeypatch.setattr(sockets, "listener_options", lambda: [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)])
    bound = socket.socket()
    bound.bind(("127.0.0.1", 0))
    bound.settimeout(0.5)
    address = bound.getsockname()
    fresh = sockets.exclusive(bound)
    try:
        assert fresh is not bound and bound.fileno() == -1
        assert fresh.getsockname() == address and fresh.gettimeout() == 0.5
        assert fresh.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    finally:
        fresh.close()


def test_no_other_socket_binds_over_a_running_servers_port(local_server):
    """The real thing, on the OS the tests run on: another socket that asks to share the port
    (SO_REUSEADDR, which on Windows would let it) cannot bind where the server listens."""
    intruder = socket.socket()
    intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        with pytest.raises(OSError):
            intruder.bind(local_server.address)
    finally:
        intruder.close()


def test_cutting_a_socket_ends_a_call_blocked_on_it(connection, pretend):
    """The real thing: a thread waiting for the socket as rpyc waits on Windows (select, then read) returns
    at once (shutdown wakes it on Linux and macOS; on Windows closesocket does, where shutdown alone left
    a disconnected client's thread waiting, under Wine, until the client spoke again)."""
    _, client, accepted = connection
    ended = threading.Event()

    def read():
        try:
            select.select([accepted], [], [], 10)
            accepted.recv(1)
        except (OSError, ValueError):  # closed under it (Windows)
            pass
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.05)  # let it block: the cut must wake a reader already waiting, not one yet to come
    sockets.cut(accepted)
    assert ended.wait(5), "the blocked read did not end"
    assert (accepted.fileno() == -1) == (sys.platform == "win32")
    pretend("windows")
    sockets.cut(client)
    assert client.fileno() == -1


# The console -----------------------------------------------------------------------------------------------


def test_printing_never_raises_on_a_cp1252_console():
    """A scene path in Japanese printed to a cp1252 console (Windows' default) shows as escapes."""
    console_bytes = io.BytesIO()
    stream = io.TextIOWrapper(console_bytes, encoding="cp1252", newline="\n")
    console.say("hrpyc: saved C:\\shots\\シーン.hip", stream)
    console.never_unencodable(stream)
    print("and é, and ☃", file=stream, flush=True)
    assert (
        console_bytes.getvalue().decode("cp1252")
        == "hrpyc: saved C:\\shots\\\\u30b7\\u30fc\\u30f3.hip\nand é, and \\u2603\n"
    )


def test_ctrl_c_and_ctrl_break_are_named_for_each_os(pretend):
    pretend("windows")
    assert console.interrupts() == (signal.SIGINT, 21) and console.child_options() == {"creationflags": 0x200}
    pretend("linux")
    assert console.interrupts() == (signal.SIGINT,) and console.child_options() == {}


def test_a_child_is_interrupted_as_ctrl_c_would(tmp_path):
    """The real thing: a child started with child_options() gets KeyboardInterrupt from interrupt()
    (SIGINT; on Windows CTRL_BREAK_EVENT to its process group, raised as Ctrl-C by break_interrupts())."""
    code = (
        "import signal, sys, time\n"
        "from hrpyc._oslayer import console\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "console.break_interrupts()\n"
        "try:\n    print('ready', flush=True)\n    time.sleep(60)\nexcept KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=child_env(), **console.child_options()
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        if _wine():  # Wine gives a process with no console (ours write into pipes) no console events
            with pytest.raises(OSError):
                console.interrupt(child)
            return
        console.interrupt(child)
        assert child.stdout.readline().strip() == "interrupted"
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
