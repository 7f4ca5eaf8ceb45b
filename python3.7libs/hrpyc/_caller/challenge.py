"""Client side: our side of the server's gate: which token to offer a server, the owner check that keeps
a loopback relay from hearing the challenge, and the challenge itself (hrpyc._auth.proof), whose answers
become one-line errors."""

from __future__ import annotations

import hmac
import secrets
import socket
from typing import Any, Optional, Tuple

from hrpyc._auth import proof
from hrpyc._auth.tokens import auto_token
from hrpyc._common import config, sessions
from hrpyc._common.address import is_loopback
from hrpyc._common.streams import read_exactly
from hrpyc._oslayer import owner
from hrpyc.errors import AuthenticationError, NotYourServerError, ProtocolError, Setting, TooManyClientsError


def prove(sock: Any, token: str, address: str, offered: Any = None) -> None:
    """Our client's side of the gate: have the server prove it knows the token, prove we do, and turn
    the answer into a one-line error. Nothing derived from the token is sent to a server that failed.
    `offered`: where the token came from ('HRPYC_TOKEN'; None: the `token` argument), for the error's fix."""
    client_nonce = secrets.token_bytes(proof.NONCE)
    status = _exchange(sock, proof.MAGIC + client_nonce, 1, address)
    if status == proof.BUSY:
        others = proof.busy_others(status + _exchange(sock, b"", proof.BUSY_REPLY_SIZE - 1, address))
        if others is not None:
            raise TooManyClientsError(address, busy=True, others=others)
    if status == proof.NO_TOKEN:
        raise AuthenticationError.no_token_asked(address, offered or Setting("token"))
    if status != proof.PROOF:
        raise ProtocolError(address, "it does not understand hrpyc tokens (a stock rpyc server?)")
    answer = _exchange(sock, b"", proof.NONCE + len(proof.UNPROVEN), address)
    server_nonce, server_proof = answer[: proof.NONCE], answer[proof.NONCE :]
    key, binding = proof.token_key(token.encode("utf-8")), proof.channel_binding(sock)
    if not hmac.compare_digest(server_proof, proof.of(key, b"server", client_nonce, server_nonce, binding)):
        try:
            sock.sendall(proof.UNPROVEN)  # so a real server with another token logs "wrong token"
        except OSError:
            pass
        raise AuthenticationError(address)
    verdict = _exchange(sock, proof.of(key, b"client", client_nonce, server_nonce, binding), 1, address)
    if verdict == proof.WRONG_TOKEN:
        raise AuthenticationError(address)
    if verdict == proof.FULL:
        raise TooManyClientsError(address)
    if verdict != proof.ACCEPTED:
        raise ProtocolError(address, "it does not understand hrpyc tokens (a stock rpyc server?)")


def asks_for_token(sock: Any, wait: float = 1.0) -> bool:
    """Does the server at the other end of `sock` (closed here) ask for a token? Its first answer to the
    challenge says so (PROOF); we hang up then, having proved nothing. Asked only after a server hung up on
    a client that offered none, so the client can say "needs a token" rather than "not an rpyc server"."""
    try:
        sock.settimeout(wait)  # a stock server of the other rpyc generation waits for more: not a token server
        sock.sendall(proof.MAGIC + secrets.token_bytes(proof.NONCE))
        return read_exactly(sock.recv, 1) == proof.PROOF
    except (OSError, EOFError):
        return False
    finally:
        sock.close()


def _exchange(sock: Any, send: bytes, receive: int, address: str) -> bytes:
    """Send, then read exactly `receive` bytes, or a one-line ProtocolError."""
    try:
        if send:
            sock.sendall(send)
        return read_exactly(sock.recv, receive)
    except socket.timeout:
        raise ProtocolError(address, "no answer to the token challenge (a stock rpyc server?)") from None
    except (OSError, EOFError):
        raise ProtocolError(address, "it hung up on the token challenge; is it an hrpyc server?") from None


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
