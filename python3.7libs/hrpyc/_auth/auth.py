"""Both sides: who may use the server: a shared token, TLS (optionally with client certificates), checked
before any rpyc byte is read, by a gate that is an rpyc authenticator (`sock -> (sock, credentials)`).

The token never crosses the wire. Our client and the gate run a mutual challenge on the raw socket
(inside TLS when there is TLS) before rpyc starts, both proving they know the token, the server first:
    client: MAGIC + client nonce (32 random bytes)
    server: PROOF + server nonce (32) + HMAC(key, "server" + both nonces + binding)    (NO_TOKEN if it has none)
    client: HMAC(key, "client" + both nonces + binding) once the server's proof checks out, else 32 zeros
    server: ACCEPTED, WRONG_TOKEN or FULL
A gate too busy to take a socket (see Gate._enter) answers before anything else and hangs up: BUSY and
the number it is authenticating (busy_reply), which our client reads as the status byte with a token and
as rpyc's first frame header without one, so it can say so; a TLS alert where TLS comes first.
`key` is PBKDF2-SHA256 of the token (100,000 rounds), so a proof anyone can ask the server for costs
that much per guess to brute-force offline. A port squatter, a stale or planted session record, a
registry entry: whoever answers in the server's place learns a nonce, nothing derived from the token.
`binding` is the TLS channel's own (tls-unique) when there is TLS, so a proof is worthless on any other
TLS connection: a relay that ends TLS on either side cannot pass it on. Without TLS nothing binds a proof
to its connection (an `ssh -L` forward must keep working): a relay on this machine is kept out by the
owner checks instead (oslayer.owner), on both ends. MAGIC_V3 (hrpyc before channel binding) is still answered,
without a binding.
A stock rpyc client starts with a frame header instead; such a client is served when the server needs
no token, and refused, with its address logged, when it does.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import random
import secrets
import select
import socket
import ssl
import struct
import threading
from typing import Any, Callable, Dict, Optional, Tuple

from rpyc.utils.authenticators import AuthenticationError as RpycAuthenticationError

from hrpyc._common import config, sessions, userdir
from hrpyc._common.address import format_address, is_loopback
from hrpyc._oslayer import owner, sockets
from hrpyc._server import deadlines
from hrpyc._wire import lane
from hrpyc.errors import (
    AuthenticationError,
    ConfigError,
    InsecureBindError,
    NotYourServerError,
    ProtocolError,
    Setting,
    TooManyClientsError,
)

log = logging.getLogger(__name__)

MAGIC = b"HRPYC\x04"  # the challenge, its proofs bound to the TLS channel (b"HRPYC\x01": old preamble, refused)
MAGIC_V3 = b"HRPYC\x03"  # the challenge of hrpyc before channel binding: still answered, unbound
NONCE = 32
ACCEPTED, WRONG_TOKEN, FULL = b"\x01", b"\x00", b"\x02"
PROOF, NO_TOKEN, BUSY = b"\x01", b"\x00", b"\x03"
# BUSY + this + how many others (2 bytes): as an rpyc frame header, a frame of over 50 MB, so a stock
# client waits for the rest and reads the hang-up as it did before; no server's first answer is that big.
_BUSY_TAG = b"HR"
_BUSY = struct.Struct(">1s2sH")
# A fatal TLS alert (user_canceled: "a reason unrelated to a protocol failure") where TLS comes first.
TLS_BUSY = b"\x15\x03\x03\x00\x02\x02\x5a"
TLS_BUSY_REASON = "TLSV1_ALERT_USER_CANCELLED"  # what Python's ssl calls it on our client
UNPROVEN = bytes(32)  # what our client sends instead of its proof when the server's did not check out
KEY_ROUNDS = 100000

Refused = Callable[[Tuple[str, int], str], None]
FindLane = Callable[[bytes], Any]  # a lane's key -> the lane, or None


@functools.lru_cache(maxsize=8)
def _key(token: bytes) -> bytes:
    """The token, stretched: one PBKDF2 per process and token, then every proof is one HMAC."""
    return hashlib.pbkdf2_hmac("sha256", token, b"hrpyc challenge v1", KEY_ROUNDS)


def _proof(key: bytes, side: bytes, client_nonce: bytes, server_nonce: bytes, binding: bytes = b"") -> bytes:
    return hmac.new(key, side + client_nonce + server_nonce + binding, hashlib.sha256).digest()


def _binding(conn: Any) -> bytes:
    """What ties a proof to this connection: the TLS channel's tls-unique, b"" without TLS."""
    if isinstance(conn, ssl.SSLSocket):
        return conn.get_channel_binding("tls-unique") or b""
    return b""


def auto_token(create: bool = True) -> Optional[str]:
    """This user's own token, created on first use in a file only they can read; local clients of the
    same user find it there, so token='auto' needs no configuration."""
    path = auto_token_path()
    token = (userdir.read_private(path, secret=True) or "").strip()
    if token or not create:
        return token or None
    # Several servers may start at once: the first file made wins, and every one of them reads it.
    userdir.create_private(path, secrets.token_urlsafe(32))
    return (userdir.read_private(path, secret=True) or "").strip() or None


def rotate_auto_token() -> str:
    """A new auto token in place of the old one (written safely: see userdir.write_private). Servers
    keep the token they started with until they restart; local clients read the new one when they
    next connect, clients elsewhere need it given to them."""
    token = secrets.token_urlsafe(32)
    userdir.write_private(auto_token_path(), token)
    return token


def auto_token_path() -> str:
    return os.path.join(userdir.checked_state_dir(), "token")


def server_context(certfile: str, keyfile: Optional[str], cafile: Optional[str]) -> ssl.SSLContext:
    """TLS for the server; with `cafile`, clients must present a certificate signed by it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # not left to OpenSSL: a 1.1.1 build accepts TLS 1.0
    _load(context.load_cert_chain, "certfile", certfile, keyfile)
    if cafile:
        _load(context.load_verify_locations, "cafile", cafile)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(cafile: Optional[str], certfile: Optional[str], keyfile: Optional[str]) -> ssl.SSLContext:
    """TLS for our client: the server's certificate is checked against `cafile` (host name included),
    or, without one, against the system's trusted authorities."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cafile:
        _load(context.load_verify_locations, "cafile", cafile)
    if certfile:
        _load(context.load_cert_chain, "certfile", certfile, keyfile)
    return context


def _load(load: Callable[..., None], name: str, path: str, *more: Optional[str]) -> None:
    """A certificate, key or authority file (`name`: certfile, cafile) read into a TLS context, or a one-line
    ConfigError."""
    try:
        load(path, *more)
    except (ssl.SSLError, ValueError) as exc:
        expected = "a PEM certificate and its key" if name == "certfile" else "a PEM certificate file"
        reason = getattr(exc, "reason", None) or exc
        raise ConfigError(config.tls_setting(name, path), path, "{} ({})".format(expected, reason)) from None


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


def _has_spoken(sock: socket.socket) -> bool:
    """Whether `sock`'s first byte (or its hang-up) has come, though its thread may not have read it yet: on
    a busy machine a client's thread can wait to run while newcomers arrive, and it must not be taken for
    silent then."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed meanwhile: nothing to shed there
        return True


class Gate(object):
    """The server's authenticator: TLS, then the token preamble, within `timeout`, before rpyc.
    A bulk-lane socket (hrpyc._wire.lane) shows its lane's key instead, and its credentials are that lane.

    Admission (see _enter): each socket still authenticating holds a descriptor and a thread, so at most
    `pending_limit` may, and at most PER_SOURCE from one source: one attacker cannot hold everyone's
    places. Refused sockets are closed here: rpyc >= 4.1.1 leaves them to the garbage collector.
    """

    PER_SOURCE = 16  # a farm node's clients connecting at once, a client's bulk lanes: each a few ms
    SHED_FROM = 0.5  # shedding starts with the queue half full, for this share of newcomers,
    SHED_RATE = 0.3  # rising to all of them when it is full (sshd's MaxStartups, start:rate:full)

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
        self._key = _key(token.encode("utf-8")) if token else None
        self._tls = tls
        self._credential = credential  # what rpyc records as the connection's credentials
        self._has_room = has_room
        self._refused = refused
        self._find_lane = find_lane
        self._timeout = timeout
        self._pending_lock = threading.Lock()
        self._pending: Dict[socket.socket, _Waiting] = {}  # the sockets authenticating, oldest first
        self._per_source: Dict[str, int] = {}
        self._pending_limit = pending_limit
        self._shed_from = int(pending_limit * self.SHED_FROM)

    def __call__(self, sock: socket.socket) -> Tuple[Any, Any]:
        try:
            peer = sock.getpeername()[:2]
        except OSError:
            raise RpycAuthenticationError("gone before it was checked") from None
        late = "did not finish authenticating within {:g} s".format(self._timeout)
        turned_away = self._enter(sock, peer[0])
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
                shed = not self._leave(sock)
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

    def _enter(self, sock: socket.socket, address: str) -> str:
        """Count a socket in ("") or turn it away (why). At most PER_SOURCE from one address wait for
        their first byte, and past half of `pending_limit` newcomers are shed, as sshd's MaxStartups
        sheds them: by a chance that rises to 1 at the limit. What goes, if there is one, is the silent
        socket that has waited longest (of the same address, at its limit) rather than the newcomer: our
        clients and rpyc's speak at once, a flood's sockets never, so a flood of silent sockets, from one
        address or many, keeps nobody out. Only when every waiting socket has spoken (drips, from many
        sources) is the newcomer refused. Either is told the server is busy (busy_reply)."""
        with self._pending_lock:
            others = len(self._pending)
            crowded = self._per_source.get(address, 0) >= self.PER_SOURCE
            if crowded or self._shedding(others):
                silent = next(
                    (
                        s
                        for s, w in self._pending.items()
                        if not w.heard and (not crowded or w.source == address) and not _has_spoken(s)
                    ),
                    None,
                )
                if silent is None:
                    self._turn_away(sock, others)
                    return BUSY_SOURCE.format("this address") if crowded else BUSY_GATE
                self._forget(silent)
                self._turn_away(silent, others)  # its own thread closes it, and reports SHED
            self._pending[sock] = _Waiting(address)
            self._count(address, 1)
        return ""

    def _shedding(self, others: int) -> bool:
        if others < self._shed_from:
            return False
        if others >= self._pending_limit:
            return True
        rising = (others - self._shed_from) / max(1, self._pending_limit - self._shed_from)
        return random.random() < self.SHED_RATE + (1 - self.SHED_RATE) * rising

    def _hear(self, sock: socket.socket, peer: Tuple[str, int]) -> Optional[owner.Owner]:
        """Wait for the client's first byte (until it comes, the socket may be shed for a newcomer), then,
        on loopback, count it as its user's where the system says who connected: at most PER_SOURCE of
        one user's sockets may be authenticating once they have spoken. Returns who holds it, or None.

        The look-up (on Linux a scan of the system's socket table: 10-50 ms here) is made when the owner
        check needs it, or when others from the same address are authenticating too: never for a socket
        that says nothing, nor for a client that connects on its own."""
        sock.settimeout(self._timeout)
        said = sock.recv(1, socket.MSG_PEEK)
        with self._pending_lock:
            waiting = self._pending.get(sock)
            if waiting is None:
                raise _Refusal(SHED)  # shed just before its byte came: told the server is busy
            waiting.heard = True
            alone = self._per_source[waiting.source] == 1
        if not said:
            raise _HungUp()
        if not is_loopback(peer[0]) or (alone and not self._only_owner):
            return None
        found = owner.client_owner(sock)
        if found.state != owner.UNKNOWN:
            user = found.detail  # 'uid 1000', a Windows SID
            with self._pending_lock:
                if self._per_source.get(user, 0) >= self.PER_SOURCE:
                    self._turn_away(sock, len(self._pending) - 1)
                    raise _Refusal(BUSY_SOURCE.format(user))
                self._count(waiting.source, -1)
                waiting.source = user
                self._count(user, 1)
        return found

    def _turn_away(self, sock: socket.socket, others: int) -> None:
        """Tell `sock` the server is busy and shut it. It has been answered nothing yet, so its send buffer
        is empty and these few bytes never wait on the peer; what it sent is read first, so that the
        hang-up is a clean one (a reset can discard the answer on the way)."""
        try:
            sock.settimeout(0)
            sock.send(TLS_BUSY if self._tls is not None else busy_reply(others))
            sock.recv(4096)
        except OSError:
            pass
        sockets.cut(sock)

    def _leave(self, sock: socket.socket) -> bool:
        """Count a socket out; False when it had been shed meanwhile."""
        with self._pending_lock:
            return self._forget(sock)

    def _forget(self, sock: socket.socket) -> bool:
        waiting = self._pending.pop(sock, None)
        if waiting is None:
            return False
        self._count(waiting.source, -1)
        return True

    def _count(self, source: str, change: int) -> None:
        left = self._per_source.get(source, 0) + change
        if left:
            self._per_source[source] = left
        else:
            del self._per_source[source]

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
            found = self._find_lane(_read_exactly(conn, lane.KEY_SIZE))
            if found is None:
                raise _Refusal("a bulk lane with an unknown key")
            return found
        if magic:
            client_nonce = _read_exactly(conn, NONCE)
            if self._key is None:
                conn.sendall(NO_TOKEN)  # our client, given a token, will not go on with a server that has none
                raise _Refusal("the client offered a token; this server has none")
            server_nonce = secrets.token_bytes(NONCE)
            binding = _binding(conn) if magic == MAGIC else b""
            conn.sendall(PROOF + server_nonce + _proof(self._key, b"server", client_nonce, server_nonce, binding))
            offered = _read_exactly(conn, len(UNPROVEN))
            if not hmac.compare_digest(offered, _proof(self._key, b"client", client_nonce, server_nonce, binding)):
                conn.sendall(WRONG_TOKEN)
                raise _Refusal("wrong token")
            if not self._has_room():
                conn.sendall(FULL)
                raise _Refusal("too many clients")
            conn.sendall(ACCEPTED)
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
            magic = _read_exactly(conn, len(MAGIC))
            if magic not in PREAMBLES:
                raise _Refusal("no token (a stock rpyc client?)")
            return magic
        if not _starts_like_preamble(conn):
            return b""
        magic = _read_exactly(conn, len(MAGIC))
        if magic not in PREAMBLES:
            raise _Refusal("garbage where a token or an rpyc frame should be")
        return magic


class _Refusal(Exception):
    pass


class _HungUp(Exception):
    """The client left before its first byte."""


class _Waiting(object):
    """A socket still authenticating: where from, and whether it has said anything yet."""

    __slots__ = ("heard", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.heard = False


# Why a socket was turned away at the gate (each was told the server is busy).
BUSY_GATE = "busy: too many connections still authenticating (a flood?)"
BUSY_SOURCE = "busy: " + str(Gate.PER_SOURCE) + " connections from {} still authenticating (a flood?)"
SHED = "busy: shed, still silent, for a newcomer (a flood?)"


def busy_reply(others: int) -> bytes:
    """What a busy gate answers a plain socket (see the module's docstring): a few bytes, no secret."""
    return _BUSY.pack(BUSY, _BUSY_TAG, min(others, 0xFFFF))


def busy_others(head: bytes) -> Optional[int]:
    """How many others a busy gate said it was authenticating, if `head` (the first bytes a server
    sent) is its busy answer; else None."""
    if len(head) < _BUSY.size:
        return None
    status, tag, others = _BUSY.unpack_from(head)
    return others if status == BUSY and tag == _BUSY_TAG else None


PREAMBLES = (MAGIC, MAGIC_V3, lane.MAGIC)


def prove(sock: Any, token: str, address: str, offered: Any = None) -> None:
    """Our client's side of the gate: have the server prove it knows the token, prove we do, and turn
    the answer into a one-line error. Nothing derived from the token is sent to a server that failed.
    `offered`: where the token came from ('HRPYC_TOKEN'; None: the `token` argument), for the error's fix."""
    client_nonce = secrets.token_bytes(NONCE)
    status = _exchange(sock, MAGIC + client_nonce, 1, address)
    if status == BUSY:
        others = busy_others(status + _exchange(sock, b"", _BUSY.size - 1, address))
        if others is not None:
            raise TooManyClientsError(address, busy=True, others=others)
    if status == NO_TOKEN:
        raise AuthenticationError.no_token_asked(address, offered or Setting("token"))
    if status != PROOF:
        raise ProtocolError(address, "it does not understand hrpyc tokens (a stock rpyc server?)")
    answer = _exchange(sock, b"", NONCE + len(UNPROVEN), address)
    server_nonce, server_proof = answer[:NONCE], answer[NONCE:]
    key, binding = _key(token.encode("utf-8")), _binding(sock)
    if not hmac.compare_digest(server_proof, _proof(key, b"server", client_nonce, server_nonce, binding)):
        try:
            sock.sendall(UNPROVEN)  # so a real server with another token logs "wrong token"
        except OSError:
            pass
        raise AuthenticationError(address)
    verdict = _exchange(sock, _proof(key, b"client", client_nonce, server_nonce, binding), 1, address)
    if verdict == WRONG_TOKEN:
        raise AuthenticationError(address)
    if verdict == FULL:
        raise TooManyClientsError(address)
    if verdict != ACCEPTED:
        raise ProtocolError(address, "it does not understand hrpyc tokens (a stock rpyc server?)")


def asks_for_token(sock: Any, wait: float = 1.0) -> bool:
    """Does the server at the other end of `sock` (closed here) ask for a token? Its first answer to the
    challenge says so (PROOF); we hang up then, having proved nothing. Asked only after a server hung up on
    a client that offered none, so the client can say "needs a token" rather than "not an rpyc server"."""
    try:
        sock.settimeout(wait)  # a stock server of the other rpyc generation waits for more: not a token server
        sock.sendall(MAGIC + secrets.token_bytes(NONCE))
        return _read_exactly(sock, 1) == PROOF
    except (OSError, EOFError):
        return False
    finally:
        sock.close()


def _exchange(sock: Any, send: bytes, receive: int, address: str) -> bytes:
    """Send, then read exactly `receive` bytes, or a one-line ProtocolError."""
    try:
        if send:
            sock.sendall(send)
        return _read_exactly(sock, receive)
    except socket.timeout:
        raise ProtocolError(address, "no answer to the token challenge (a stock rpyc server?)") from None
    except (OSError, EOFError):
        raise ProtocolError(address, "it hung up on the token challenge; is it an hrpyc server?") from None


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
    sockets.cut(sock)
    sock.close()


def client_token(token: Optional[str], peer: Tuple[str, int], address: str) -> Optional[str]:
    """The token our client offers the server it reached at `peer` (`address`: as the user named it):
    `token`, else HRPYC_TOKEN / HRPYC_TOKEN_FILE. This user's own auto token (token='auto', or none given
    and the session record says the server uses it) is offered only to a server one of this user's live
    session records names: whatever else holds a port here could relay the challenge to the real one."""
    given = token if token is not None else config.token_setting()
    if given and given != "auto":
        return given
    record = sessions.serving(peer)
    if given == "auto":
        if record is None:
            raise NotYourServerError.unrecorded(address)
        return auto_token(create=False) or ""
    if record is not None and record.get("token_source") == "auto":
        return auto_token(create=False)
    return None


def check_owner(sock: socket.socket, address: str) -> None:
    """Our client's side of the owner check: a loopback server another user's process holds (a relay, a
    squatter on a port of ours) gets nothing from us. Where the system cannot tell, we go on: a server
    of ours answers all the same, and the server's own check keeps a relay out."""
    if is_loopback(sock.getpeername()[0]):
        found = owner.server_owner(sock)
        if found.state == owner.OTHERS:
            raise NotYourServerError.of_user(address, found.detail)
