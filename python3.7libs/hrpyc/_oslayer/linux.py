"""Both sides, Linux only: what the rest of `oslayer` asks Linux, each returning what Linux gives (bytes of
a netlink answer, the text of a /proc file) or raising OSError - nothing decided here."""

import socket
import sys

assert sys.platform == "linux"

NETLINK_SOCK_DIAG = 4
TABLES = {int(socket.AF_INET): "/proc/net/tcp", int(socket.AF_INET6): "/proc/net/tcp6"}


def sock_diag(request: bytes) -> bytes:
    """netlink's sock_diag answer to `request` (as `ss` asks: any user may, in tens of microseconds);
    OSError where netlink is not allowed (some sandboxes)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as netlink:
        netlink.settimeout(1.0)
        netlink.sendto(request, (0, 0))
        return netlink.recv(8192)


def tcp_table(family: int) -> str:
    """/proc/net/tcp (or tcp6): a line per socket - tens of milliseconds with thousands of sockets."""
    with open(TABLES[family], "rb") as handle:
        return handle.read().decode("ascii", "replace")


def process_stat(pid: int) -> str:
    """/proc/PID/stat."""
    with open("/proc/{}/stat".format(pid), "rb") as handle:
        return handle.read().decode("utf-8", "replace")
