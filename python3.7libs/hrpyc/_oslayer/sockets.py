"""Both sides: sockets as each OS's socket layer has them - what an error number means, what keeps a
listener's port ours, and how to end a socket's exchanges at once.

- Windows: Winsock's numbers: 10013 WSAEACCES on bind (a port Windows reserves for Hyper-V, WSL2 or
  Docker, or one another program holds exclusively), 10048 in use, 10024 WSAEMFILE and 10055 WSAENOBUFS
  (out of resources), 10004 WSAEINTR, 10035 WSAEWOULDBLOCK, and 10053/10054 (a client that gave up or
  reset before it was accepted). SO_REUSEADDR there would let another socket bind over our port, so rpyc
  leaves it off; SO_EXCLUSIVEADDRUSE forbids it. Only closesocket is documented to end a call blocked
  on a socket: shutdown alone may leave a reader waiting.
- Linux, macOS: errno numbers, which differ between them (EADDRINUSE is 98 on one, 48 on the other).
  rpyc sets SO_REUSEADDR (a restarted server may bind past TIME_WAIT). shutdown ends blocked calls;
  close from another thread would not, and would free the number for reuse while a thread reads it.
"""

import errno
import socket
from typing import Dict, FrozenSet, List, Optional, Tuple

from hrpyc._oslayer import system

# fmt: off
ERRNOS: Dict[str, Dict[str, int]] = {
    "linux": dict(EINTR=4, EAGAIN=11, ENOMEM=12, EACCES=13, ENFILE=23, EMFILE=24, EPROTO=71, EADDRINUSE=98,
                  ECONNABORTED=103, ECONNRESET=104, ENOBUFS=105),
    "macos": dict(EINTR=4, ENOMEM=12, EACCES=13, ENFILE=23, EMFILE=24, EAGAIN=35, EADDRINUSE=48,
                  ECONNABORTED=53, ECONNRESET=54, ENOBUFS=55, EPROTO=100),
    "windows": dict(EINTR=10004, EACCES=10013, EMFILE=10024, EAGAIN=10035, EADDRINUSE=10048,
                    ECONNABORTED=10053, ECONNRESET=10054, ENOBUFS=10055),
}
# fmt: on
NAMES = sorted(ERRNOS["linux"])
RETRY, BACK_OFF = "retry", "back off"
IN_USE, RESERVED = "in use", "reserved"
SO_EXCLUSIVEADDRUSE = getattr(socket, "SO_EXCLUSIVEADDRUSE", -5)  # winsock2.h: ~SO_REUSEADDR (4)


def numbers() -> Dict[str, int]:
    """This system's numbers for the errors named here (elsewhere: the errno module's)."""
    known = ERRNOS.get(system.NAME)
    return known if known is not None else {name: getattr(errno, name) for name in NAMES if hasattr(errno, name)}


def _names(number: Optional[int]) -> FrozenSet[str]:
    return frozenset(name for name, value in numbers().items() if value == number)


def accept_error(number: Optional[int]) -> Optional[str]:
    """What an accept loop does after accept() failed with `number`: RETRY at once (interrupted; a client
    that gave up or reset before it was accepted), BACK_OFF (out of descriptors or memory: they free up
    as other sockets close), or None: the listener itself failed."""
    names = _names(number)
    if names & {"EINTR", "EAGAIN", "ECONNABORTED", "ECONNRESET", "EPROTO"}:
        return RETRY
    if names & {"EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"}:
        return BACK_OFF
    return None


def bind_error(number: Optional[int]) -> Optional[str]:
    """Why bind() failed with `number`: IN_USE, RESERVED (Windows: a port it keeps for itself, or one
    another program holds exclusively; `netsh int ipv4 show excludedportrange protocol=tcp` lists the
    reserved ranges), or None: something else (an address not of this machine...)."""
    names = _names(number)
    if "EADDRINUSE" in names:
        return IN_USE
    if "EACCES" in names and system.NAME == "windows":  # on POSIX: a port below 1024, which is no reservation
        return RESERVED
    return None


def listener_options() -> List[Tuple[int, int, int]]:
    """(level, option, value) to set on a listener before it binds, beyond rpyc's own."""
    if system.NAME == "windows":
        return [(socket.SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1)]
    return []


def exclusive(sock: socket.socket) -> socket.socket:
    """A listener bound where `sock` (bound, not listening yet) is, with listener_options(): `sock` itself
    where there are none; else a new socket in its place, as the options must be set before bind and
    rpyc binds its own (`sock` is closed first: between the two, the port is free for a moment)."""
    options = listener_options()
    if not options:
        return sock
    address, timeout = sock.getsockname(), sock.gettimeout()
    fresh = socket.socket(sock.family, sock.type)
    try:
        for level, option, value in options:
            fresh.setsockopt(level, option, value)
        sock.close()
        fresh.bind(address)
    except BaseException:
        fresh.close()
        raise
    fresh.settimeout(timeout)
    return fresh


def cut(sock: socket.socket) -> None:
    """End every exchange on `sock` at once, whichever thread is blocked on it: shutdown wakes blocked
    calls on Linux and macOS; on Windows closesocket is what cancels them, so the socket is closed too."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
    if system.NAME == "windows":
        try:
            sock.close()
        except OSError:
            pass
