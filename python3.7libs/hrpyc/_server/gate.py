"""Server side: who may use the server: a shared token, TLS (optionally with client certificates), checked
before any rpyc byte is read, by a gate that is an rpyc authenticator (`sock -> (sock, credentials)`).

A client with a token proves it in the challenge (hrpyc._auth.proof), the server first; a bulk-lane
socket (hrpyc._wire.lane) shows its lane's key instead. A stock rpyc client starts with a frame header:
such a client is served when the server needs no token, and refused, with its address logged, when it
does. On loopback, only this user's processes get in (see Gate._check_owner). How many sockets may be
at the gate at once, and which go in a flood: hrpyc._server.admission.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import socket
import ssl
from typing import Any, Callable, Optional, Tuple

from rpyc.utils.authenticators import AuthenticationError as RpycAuthenticationError

from hrpyc._auth import proof
from hrpyc._auth.tls import server_context
from hrpyc._auth.tokens import auto_token
from hrpyc._common import config
from hrpyc._common.address import format_address, is_loopback
from hrpyc._common.streams import read_exactly
from hrpyc._oslayer import owner, sockets
from hrpyc._server import deadlines
from hrpyc._server.admission import SHED, Admission
from hrpyc._wire import lane
from hrpyc.errors import ConfigError, InsecureBindError

log = logging.getLogger(__name__)

PREAMBLES = (proof.MAGIC, proof.MAGIC_V3, lane.MAGIC)

Refused = Callable[[Tuple[str, int], str], None]
FindLane = Callable[[bytes], Any]  # a lane's key -> the lane, or None


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

    __slots__ = ("_token", "allow_insecure", "only_owner", "timeout", "tls", "token_source")

    def __init__(
        self,
        token: Optional[str] = None,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        cafile: Optional[str] = None,
        allow_insecure: Optional[bool] = None,
        allow_other_users: Optional[bool] = None,
    ) -> None:
        given = config.server_token(token)
        self.token_source = "auto" if given == "auto" else ("given" if given else "")
        self._token = auto_token() if given == "auto" else (given or None)
        certfile, keyfile, cafile = config.tls_files(certfile, keyfile, cafile)
        if (keyfile or cafile) and not certfile:
            raise ConfigError("certfile", None, "a certificate (or HRPYC_TLS_CERT) when a key or CA is given")
        self.tls = server_context(certfile, keyfile, cafile) if certfile else None
        self.allow_insecure = config.flag("HRPYC_ALLOW_INSECURE") if allow_insecure is None else allow_insecure
        self.timeout = config.auth_timeout()
        others = config.flag("HRPYC_ALLOW_OTHER_USERS") if allow_other_users is None else allow_other_users
        # On loopback, only this user's processes, whatever the credential: a token shown by another user's
        # process may be one it relays from ours. None the system cannot name either (see Gate._check_owner).
        self.only_owner = not others

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

    def gate(self, has_room: Callable[[], bool], refused: Refused, find_lane: FindLane, pending_limit: int) -> Gate:
        """The authenticator; at most `pending_limit` sockets may be authenticating at once."""
        credential = self.credential
        return Gate(
            self._token,
            self.tls,
            None if credential == "none" else credential,
            has_room,
            refused,
            find_lane,
            self.timeout,
            self.only_owner,
            pending_limit,
        )


class Gate(object):
    """The server's authenticator: TLS, then the token preamble, within `timeout`, before rpyc.
    A bulk-lane socket (hrpyc._wire.lane) shows its lane's key instead, and its credentials are that lane.

    Admission (hrpyc._server.admission): each socket still authenticating holds a descriptor and a thread,
    so at most `pending_limit` may, and at most Admission.PER_SOURCE from one source: one attacker cannot
    hold everyone's places. Refused sockets are closed here: rpyc >= 4.1.1 leaves them to the garbage
    collector.
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
        only_owner: bool,
        pending_limit: int,
    ) -> None:
        self._only_owner = only_owner
        self._key = proof.token_key(token.encode("utf-8")) if token else None
        self._tls = tls
        self._credential = credential  # what rpyc records as the connection's credentials
        self._has_room = has_room
        self._refused = refused
        self._find_lane = find_lane
        self._timeout = timeout
        self._admission = Admission(pending_limit, tls is not None)

    def __call__(self, sock: socket.socket) -> Tuple[Any, Any]:
        try:
            peer = sock.getpeername()[:2]
        except OSError:
            raise RpycAuthenticationError("gone before it was checked") from None
        late = "did not finish authenticating within {:g} s".format(self._timeout)
        turned_away = self._admission.enter(sock, peer[0])
        if turned_away:
            reason = turned_away
        else:
            ticket, cut = deadlines.watch(sock, self._timeout), False
            try:
                try:
                    credentials = self._authenticate(sock, peer, self._hear(sock, peer))
                finally:
                    cut = deadlines.release(ticket)
                if not cut:
                    return credentials
                reason = late
            except _Refusal as refusal:
                reason = str(refusal)
            except _HungUp:
                reason = late if cut else ""  # it asked nothing: nothing to refuse (a port scan, a probe)
            except socket.timeout:
                reason = late
            except (OSError, EOFError, ValueError) as exc:  # TLS garbage, resets, hang-ups
                reason = late if cut else "{}: {}".format(type(exc).__name__, exc)
            finally:
                shed = not self._admission.leave(sock)
            if shed:
                reason = SHED
        _close(sock)
        if reason:
            self._refused(peer, reason)
        raise RpycAuthenticationError(reason or "hung up before saying anything")

    def _authenticate(
        self, sock: socket.socket, peer: Tuple[str, int], found: Optional[owner.Owner]
    ) -> Tuple[Any, Any]:
        if self._only_owner and is_loopback(peer[0]):
            self._check_owner(found)
        sock.settimeout(self._timeout)
        conn = self._tls.wrap_socket(sock, server_side=True) if self._tls else sock
        credentials = self._check(conn)
        conn.settimeout(None)
        return conn, credentials

    def _hear(self, sock: socket.socket, peer: Tuple[str, int]) -> Optional[owner.Owner]:
        """Wait for the client's first byte (until it comes, the socket may be shed for a newcomer), then,
        on loopback, count it as its user's where the system says who connected: at most
        Admission.PER_SOURCE of one user's sockets may be authenticating once they have spoken. Returns
        who holds it, or None.

        The look-up (on Linux a scan of the system's socket table: 10-50 ms here) is made when the owner
        check needs it, or when others from the same address are authenticating too: never for a socket
        that says nothing, nor for a client that connects on its own."""
        sock.settimeout(self._timeout)
        said = sock.recv(1, socket.MSG_PEEK)
        alone = self._admission.heard(sock)
        if alone is None:
            raise _Refusal(SHED)  # shed just before its byte came: told the server is busy
        if not said:
            raise _HungUp()
        if not is_loopback(peer[0]) or (alone and not self._only_owner):
            return None
        found = owner.client_owner(sock)
        if found.state != owner.UNKNOWN:
            busy = self._admission.count_as(sock, found.detail)
            if busy:
                raise _Refusal(busy)
        return found

    def _check_owner(self, found: Optional[owner.Owner]) -> None:
        """Another user's process on this machine may not use the server, whatever it shows: with a
        token it may be relaying one of our own clients' challenges. Nor may a process the system cannot
        name (it may be another user's: Windows will not show us their processes), unless this system
        never names any (Wine; an OS with no look-up) and the client shows the credential asked for: there
        the credential is all that tells clients apart, and refusing would refuse every local client."""
        if found is None or (found.state == owner.UNKNOWN and not (found.blind and self._credential)):
            raise _Refusal(
                "cannot tell which user connected: {}; allow_other_users lets in any local user's process "
                "with the credential asked for".format(found.detail if found is not None else owner.GONE)
            )
        if found.state == owner.OTHERS:
            raise _Refusal("a process of another user ({}); allow_other_users lets other users in".format(found.detail))

    def _check(self, conn: Any) -> Any:
        """Read the preamble if the client sent one; return the credentials, or raise _Refusal."""
        magic = self._preamble(conn)
        if magic == lane.MAGIC:
            found = self._find_lane(read_exactly(conn.recv, lane.KEY_SIZE))
            if found is None:
                raise _Refusal("a bulk lane with an unknown key")
            return found
        if magic:
            client_nonce = read_exactly(conn.recv, proof.NONCE)
            if self._key is None:
                conn.sendall(proof.NO_TOKEN)  # our client, given a token, will not go on with a server that has none
                raise _Refusal("the client offered a token; this server has none")
            server_nonce = secrets.token_bytes(proof.NONCE)
            binding = proof.channel_binding(conn) if magic == proof.MAGIC else b""
            server_proof = proof.of(self._key, b"server", client_nonce, server_nonce, binding)
            conn.sendall(proof.PROOF + server_nonce + server_proof)
            offered = read_exactly(conn.recv, len(proof.UNPROVEN))
            if not hmac.compare_digest(offered, proof.of(self._key, b"client", client_nonce, server_nonce, binding)):
                conn.sendall(proof.WRONG_TOKEN)
                raise _Refusal("wrong token")
            if not self._has_room():
                conn.sendall(proof.FULL)
                raise _Refusal("too many clients")
            conn.sendall(proof.ACCEPTED)
            return self._credential
        if self._key is not None:
            raise _Refusal("no token (a stock rpyc client?)")
        if not self._has_room():
            raise _Refusal("too many clients")
        return self._credential

    def _preamble(self, conn: Any) -> bytes:
        """The magic of the client's preamble (ours or a lane's), or b"" when it sent none."""
        if self._tls is not None:
            # No peeking into TLS: with a token the client must send a preamble; without one, none.
            if self._key is None:
                return b""
            magic = read_exactly(conn.recv, len(proof.MAGIC))
            if magic not in PREAMBLES:
                raise _Refusal("no token (a stock rpyc client?)")
            return magic
        if not _starts_like_preamble(conn):
            return b""
        magic = read_exactly(conn.recv, len(proof.MAGIC))
        if magic not in PREAMBLES:
            raise _Refusal("garbage where a token or an rpyc frame should be")
        return magic


class _Refusal(Exception):
    pass


class _HungUp(Exception):
    """The client left before its first byte."""


def _starts_like_preamble(sock: socket.socket) -> bool:
    """Peek at the first byte: ours is b"H"; an rpyc frame starts with its length, whose first byte is
    0 for any frame under 16 MB (a first byte of 0x48 would announce a frame over 1.2 GB)."""
    return sock.recv(1, socket.MSG_PEEK) == proof.MAGIC[:1]


def _close(sock: socket.socket) -> None:
    sockets.cut(sock)
    sock.close()
