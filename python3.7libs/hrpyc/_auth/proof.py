"""Both sides: the challenge our client and the server's gate run on the raw socket (inside TLS when there
is TLS) before rpyc starts: its bytes, its proofs, and a busy gate's answer. The token never crosses the
wire: both ends prove they know it, the server first:
    client: MAGIC + client nonce (32 random bytes)
    server: PROOF + server nonce (32) + HMAC(key, "server" + both nonces + binding)    (NO_TOKEN if it has none)
    client: HMAC(key, "client" + both nonces + binding) once the server's proof checks out, else 32 zeros
    server: ACCEPTED, WRONG_TOKEN or FULL
The gate's side is hrpyc._server.gate, our client's hrpyc._caller.challenge.
A gate too busy to take a socket (see hrpyc._server.admission) answers before anything else and hangs up:
BUSY and the number it is authenticating (busy_reply), which our client reads as the status byte with a
token and as rpyc's first frame header without one, so it can say so; a TLS alert where TLS comes first.
`key` is PBKDF2-SHA256 of the token (100,000 rounds), so a proof anyone can ask the server for costs
that much per guess to brute-force offline. A port squatter, a stale or planted session record, a
registry entry: whoever answers in the server's place learns a nonce, nothing derived from the token.
`binding` is the TLS channel's own (tls-unique) when there is TLS, so a proof is worthless on any other
TLS connection: a relay that ends TLS on either side cannot pass it on. Without TLS nothing binds a proof
to its connection (an `ssh -L` forward must keep working): a relay on this machine is kept out by the
owner checks instead (_oslayer.owner), on both ends. MAGIC_V3 (hrpyc before channel binding) is still answered,
without a binding.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ssl
import struct
from typing import Any, Optional

MAGIC = b"HRPYC\x04"  # the challenge, its proofs bound to the TLS channel (b"HRPYC\x01": old preamble, refused)
MAGIC_V3 = b"HRPYC\x03"  # the challenge of hrpyc before channel binding: still answered, unbound
NONCE = 32
ACCEPTED, WRONG_TOKEN, FULL = b"\x01", b"\x00", b"\x02"
PROOF, NO_TOKEN, BUSY = b"\x01", b"\x00", b"\x03"
# BUSY + this + how many others (2 bytes): as an rpyc frame header, a frame of over 50 MB, so a stock
# client waits for the rest and reads the hang-up as it did before; no server's first answer is that big.
_BUSY_TAG = b"HR"
_BUSY = struct.Struct(">1s2sH")
BUSY_REPLY_SIZE = _BUSY.size
# A fatal TLS alert (user_canceled: "a reason unrelated to a protocol failure") where TLS comes first.
TLS_BUSY = b"\x15\x03\x03\x00\x02\x02\x5a"
TLS_BUSY_REASON = "TLSV1_ALERT_USER_CANCELLED"  # what Python's ssl calls it on our client
UNPROVEN = bytes(32)  # what our client sends instead of its proof when the server's did not check out
KEY_ROUNDS = 100000


@functools.lru_cache(maxsize=8)
def token_key(token: bytes) -> bytes:
    """The token, stretched: one PBKDF2 per process and token, then every proof is one HMAC."""
    return hashlib.pbkdf2_hmac("sha256", token, b"hrpyc challenge v1", KEY_ROUNDS)


def of(key: bytes, side: bytes, client_nonce: bytes, server_nonce: bytes, binding: bytes = b"") -> bytes:
    """The proof `side` (b"server", b"client") gives that it knows the token `key` was stretched from."""
    return hmac.new(key, side + client_nonce + server_nonce + binding, hashlib.sha256).digest()


def channel_binding(conn: Any) -> bytes:
    """What ties a proof to this connection: the TLS channel's tls-unique, b"" without TLS."""
    if isinstance(conn, ssl.SSLSocket):
        return conn.get_channel_binding("tls-unique") or b""
    return b""


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
