"""Client side: reaching a server: its address (this user's only session here when no port is given),
and sockets to it, through TLS if asked and checked to be this user's server, or a one-line error."""

from __future__ import annotations

import socket
import ssl
from typing import List, Optional, Tuple, Union

from hrpyc._auth.tls import client_context
from hrpyc._caller import challenge, failures
from hrpyc._common import config, discovery, sessions
from hrpyc._common.address import DEFAULT_PORT, format_address, is_ipv6, is_loopback, server_and_port
from hrpyc.errors import HrpycError

CONNECT_TIMEOUT = 5.0  # seconds to reach the host and hear rpyc answer; rpyc alone retries for ~20 s


class Dialer(object):
    """Sockets to one server, each call a new one: the connection's, then each bulk lane's - those to the
    address the first one reached (a name may resolve to several).

    `server` and `port` as connect() takes them; `seconds` bounds `reach`, the wait to connect and hear
    rpyc answer. With `cafile` or `certfile` (or their HRPYC_TLS_* settings) the sockets speak TLS.
    Unless `allow_other_users`, a server on this machine must be this user's (see challenge.check_owner).
    """

    peer: Tuple[str, int]  # the address the first socket reached (set by first())

    def __init__(
        self,
        server: Union[str, int],
        port: Optional[int],
        seconds: Optional[float],
        cafile: Optional[str],
        certfile: Optional[str],
        keyfile: Optional[str],
        allow_other_users: bool,
    ) -> None:
        host, port = server_and_port(server, port)
        if port is None:
            port = discovery.local_port(host) or DEFAULT_PORT
        self.host, self.port = host, port
        self.address = format_address(host, port)
        self.reach = CONNECT_TIMEOUT if seconds is None else min(CONNECT_TIMEOUT, seconds)
        self._places: List[Tuple[str, int]] = []  # once first() has reached the server: its address alone
        self._tls = _tls_context(cafile, certfile, keyfile)
        self._check_owner = not allow_other_users

    def __call__(self) -> socket.socket:
        places = self._places or _addresses(self.host, self.port, self.address)
        sock = _open(self.host, places, self.address, self.reach, self._tls)
        try:
            if self._check_owner:
                challenge.check_owner(sock, self.address)
        except BaseException:
            sock.close()
            raise
        return sock

    def first(self) -> socket.socket:
        """The connection's socket; the lanes' then go where it went."""
        sock = self()
        self.peer = sock.getpeername()[:2]
        self._places.append(self.peer)
        return sock

    def asks_for_token(self) -> bool:
        """The server hung up on us at once, and we offered no token: does it ask for one? Its session
        record says so, if this user runs it here; else its first answer to the token challenge does."""
        record = sessions.serving(self.peer)
        if record is not None:
            return record.get("auth") == "token"
        try:
            sock = self()
        except HrpycError:  # gone meanwhile: say what we saw
            return False
        return challenge.asks_for_token(sock)


def _tls_context(cafile: Optional[str], certfile: Optional[str], keyfile: Optional[str]) -> Optional[ssl.SSLContext]:
    certfile, keyfile, cafile = config.tls_files(certfile, keyfile, cafile)
    return client_context(cafile, certfile, keyfile) if cafile or certfile else None


def _addresses(server: str, port: int, address: str) -> List[Tuple[str, int]]:
    """Where `server` resolves to, in the order to try. A loopback name (localhost) tries IPv4 first - or
    first the address this user's session on that port listens on: servers listen on 127.0.0.1 by
    default, and a refused [::1] costs 2 s on Windows, or reaches whoever else listens there."""
    try:
        infos = socket.getaddrinfo(server, port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, ValueError, UnicodeError) as exc:  # ValueError: a NUL byte; UnicodeError: a long label
        raise failures.unknown_host(exc, address) from None
    found = [(str(info[4][0]), port) for info in infos]
    if len(found) > 1 and all(is_loopback(host) for host, _ in found):
        found.sort(key=lambda place: (sessions.serving(place) is None, is_ipv6(place[0])))
    return list(dict.fromkeys(found))


def _open(
    server: str, places: List[Tuple[str, int]], address: str, reach: float, tls: Optional[ssl.SSLContext]
) -> socket.socket:
    """A socket connected to the first of `places` that answers, through TLS when `tls` is given."""
    failed: OSError = ConnectionRefusedError()
    for place in places:
        try:
            sock = socket.create_connection(place, timeout=reach)
            break
        except OSError as exc:
            failed = exc
    else:
        raise failures.unreachable(failed, address, reach) from None
    if tls is None:
        return sock
    try:
        return tls.wrap_socket(sock, server_hostname=server)
    except (ssl.SSLError, socket.timeout) as exc:
        sock.close()
        raise failures.tls_failed(exc, address) from None
