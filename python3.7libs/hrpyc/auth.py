"""Both sides: who may use the server: a shared token, TLS (optionally with client certificates), checked
before any rpyc byte is read, by a gate that is an rpyc authenticator (`sock -> (sock, credentials)`).

The token travels in a preamble our client writes on the raw socket before rpyc starts:
    b"HRPYC\\x01" + 2-byte big-endian length + token (UTF-8)
and the gate answers one byte (ACCEPTED, WRONG_TOKEN or FULL), so our client can say "wrong token"
instead of "protocol error". A stock rpyc client starts with a frame header instead; such a client is
served when the server needs no token, and refused, with its address logged, when it does.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import socket
import ssl
from typing import Any, Callable, Optional, Tuple

from rpyc.utils.authenticators import AuthenticationError as RpycAuthenticationError

from . import config, lane, sessions, userdir
from .address import format_address, is_loopback
from .errors import AuthenticationError, ConfigError, InsecureBindError, ProtocolError, TooManyClientsError

log = logging.getLogger(__name__)

MAGIC = b"HRPYC\x01"
ACCEPTED, WRONG_TOKEN, FULL = b"\x01", b"\x00", b"\x02"
MAX_TOKEN = 4096

Refused = Callable[[Tuple[str, int], str], None]
FindLane = Callable[[bytes], Any]  # a lane's key -> the lane, or None


def auto_token(create: bool = True) -> Optional[str]:
    """This user's own token, created on first use in a file only they can read; local clients of the
    same user find it there, so token='auto' needs no configuration."""
    path = auto_token_path()
    try:
        with open(path) as handle:
            token = handle.read().strip()
        if token:
            return token
    except OSError:
        pass
    if not create:
        return None
    token = secrets.token_urlsafe(32)
    userdir.write_private(path, token)
    return token


def auto_token_path() -> str:
    return os.path.join(userdir.state_dir(), "token")


def server_context(certfile: str, keyfile: Optional[str], cafile: Optional[str]) -> ssl.SSLContext:
    """TLS for the server; with `cafile`, clients must present a certificate signed by it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    if cafile:
        context.load_verify_locations(cafile)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(cafile: Optional[str], certfile: Optional[str], keyfile: Optional[str]) -> ssl.SSLContext:
    """TLS for our client: the server's certificate is checked against `cafile` (host name included),
    or, without one, against the system's trusted authorities."""
    context = ssl.create_default_context(cafile=cafile)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    return context


def warn_insecure(host: str, port: int, why: str) -> None:
    """The log line of a server anyone who reaches it may use: loud, because it is remote code execution."""
    log.warning(
        "hrpyc: INSECURE: listening on %s with no credential, %s: anyone who can reach this port can run code "
        "in this process",
        format_address(host, port),
        why,
    )


class Security(object):
    """What a server asks of its clients, resolved once from its arguments and HRPYC_* variables."""

    __slots__ = ("_token", "allow_insecure", "timeout", "tls", "token_source")

    def __init__(
        self,
        token: Optional[str] = None,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        cafile: Optional[str] = None,
        allow_insecure: Optional[bool] = None,
    ) -> None:
        given = token if token is not None else config.token_setting()
        self.token_source = "auto" if given == "auto" else ("given" if given else "")
        self._token = auto_token() if given == "auto" else (given or None)
        certfile, keyfile, cafile = config.tls_files(certfile, keyfile, cafile)
        if (keyfile or cafile) and not certfile:
            raise ConfigError("HRPYC_TLS_CERT", "", "a certificate file when a key or CA is given")
        self.tls = server_context(certfile, keyfile, cafile) if certfile else None
        self.allow_insecure = config.flag("HRPYC_ALLOW_INSECURE") if allow_insecure is None else allow_insecure
        self.timeout = config.auth_timeout()

    @property
    def credential(self) -> str:
        """What a client must show: 'token', 'certificate' (TLS client certificates), or 'none'."""
        if self._token is not None:
            return "token"
        if self.tls is not None and self.tls.verify_mode == ssl.CERT_REQUIRED:
            return "certificate"
        return "none"

    def check_exposure(self, host: str, port: int) -> None:
        """Beyond loopback, no credential means anyone on the network runs code here: refuse, unless
        allowed, and then warn loudly."""
        if is_loopback(host) or self.credential != "none":
            return
        if not self.allow_insecure:
            raise InsecureBindError(format_address(host, port))
        warn_insecure(host, port, "as allowed")

    @property
    def hears_preambles(self) -> bool:
        """Can the gate tell our preambles from an rpyc client's first bytes? Not over TLS without a
        token: nothing can be peeked at inside TLS, and such clients send no preamble."""
        return self.tls is None or self._token is not None

    def gate(self, has_room: Callable[[], bool], refused: Refused, find_lane: FindLane) -> Gate:
        credential = self.credential
        return Gate(
            self._token,
            self.tls,
            None if credential == "none" else credential,
            has_room,
            refused,
            find_lane,
            self.timeout,
        )


class Gate(object):
    """The server's authenticator: TLS, then the token preamble, within `timeout`, before rpyc.
    A bulk-lane socket (hrpyc.lane) shows its lane's key instead, and its credentials are that lane.

    Refused sockets are closed here: rpyc >= 4.1.1 leaves them to the garbage collector.
    """

    def __init__(
        self,
        token: Optional[str],
        tls: Optional[ssl.SSLContext],
        credential: Optional[str],
        has_room: Callable[[], bool],
        refused: Refused,
        find_lane: FindLane,
        timeout: float,
    ) -> None:
        self._token = token.encode("utf-8") if token else None
        self._tls = tls
        self._credential = credential  # what rpyc records as the connection's credentials
        self._has_room = has_room
        self._refused = refused
        self._find_lane = find_lane
        self._timeout = timeout

    def __call__(self, sock: socket.socket) -> Tuple[Any, Any]:
        try:
            peer = sock.getpeername()[:2]
        except OSError:
            raise RpycAuthenticationError("gone before it was checked") from None
        try:
            sock.settimeout(self._timeout)
            conn = self._tls.wrap_socket(sock, server_side=True) if self._tls else sock
            credentials = self._check(conn)
            conn.settimeout(None)
            return conn, credentials
        except _Refusal as refusal:
            reason = str(refusal)
        except socket.timeout:
            reason = "did not finish authenticating within {:g} s".format(self._timeout)
        except (OSError, EOFError, ValueError) as exc:  # TLS garbage, resets, hang-ups
            reason = "{}: {}".format(type(exc).__name__, exc)
        _close(sock)
        self._refused(peer, reason)
        raise RpycAuthenticationError(reason)

    def _check(self, conn: Any) -> Any:
        """Read the preamble if the client sent one; return the credentials, or raise _Refusal."""
        magic = self._preamble(conn)
        if magic == lane.MAGIC:
            found = self._find_lane(_read_exactly(conn, lane.KEY_SIZE))
            if found is None:
                raise _Refusal("a bulk lane with an unknown key")
            return found
        if magic:
            length = int.from_bytes(_read_exactly(conn, 2), "big")
            if length > MAX_TOKEN:
                raise _Refusal("a token longer than {} bytes".format(MAX_TOKEN))
            offered = _read_exactly(conn, length)
            if self._token is not None and not hmac.compare_digest(offered, self._token):
                conn.sendall(WRONG_TOKEN)
                raise _Refusal("wrong token")
            if not self._has_room():
                conn.sendall(FULL)
                raise _Refusal("too many clients")
            conn.sendall(ACCEPTED)
            return self._credential
        if self._token is not None:
            raise _Refusal("no token (a stock rpyc client?)")
        if not self._has_room():
            raise _Refusal("too many clients")
        return self._credential

    def _preamble(self, conn: Any) -> bytes:
        """The magic of the client's preamble (ours or a lane's), or b"" when it sent none."""
        if self._tls is not None:
            # No peeking into TLS: with a token the client must send a preamble; without one, none.
            if self._token is None:
                return b""
            magic = _read_exactly(conn, len(MAGIC))
            if magic not in (MAGIC, lane.MAGIC):
                raise _Refusal("no token (a stock rpyc client?)")
            return magic
        if not _starts_like_preamble(conn):
            return b""
        magic = _read_exactly(conn, len(MAGIC))
        if magic not in (MAGIC, lane.MAGIC):
            raise _Refusal("garbage where a token or an rpyc frame should be")
        return magic


class _Refusal(Exception):
    pass


def send_preamble(sock: Any, token: str, address: str) -> None:
    """Our client's side of the gate: offer the token, and turn the answer into a one-line error."""
    secret = token.encode("utf-8")
    sock.sendall(MAGIC + len(secret).to_bytes(2, "big") + secret)
    try:
        answer = _read_exactly(sock, 1)
    except (OSError, EOFError):
        raise ProtocolError(address, "it hung up on the token; is it an hrpyc server?") from None
    if answer == WRONG_TOKEN:
        raise AuthenticationError(address)
    if answer == FULL:
        raise TooManyClientsError(address)
    if answer != ACCEPTED:
        raise ProtocolError(address, "it does not understand hrpyc tokens (a stock rpyc server?)")


def _starts_like_preamble(sock: socket.socket) -> bool:
    """Peek at the first byte: ours is b"H"; an rpyc frame starts with its length, whose first byte is
    0 for any frame under 16 MB (a first byte of 0x48 would announce a frame over 1.2 GB)."""
    return sock.recv(1, socket.MSG_PEEK) == MAGIC[:1]


def _read_exactly(sock: Any, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError("closed")
        data += chunk
    return data


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def client_token(token: Optional[str], host: str, port: int) -> Optional[str]:
    """The token our client offers: `token`, else HRPYC_TOKEN / HRPYC_TOKEN_FILE, else - for a server
    of this user on this machine whose session record says it uses token='auto' - this user's own."""
    given = token if token is not None else config.token_setting()
    if given == "auto":
        return auto_token(create=False) or ""
    if given or not is_loopback(host):
        return given or None
    for record in sessions.live():
        if record.get("port") == port and record.get("token_source") == "auto":
            return auto_token(create=False)
    return None
