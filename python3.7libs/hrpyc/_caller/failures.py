"""Client side: where the socket, TLS and rpyc errors met while connecting become hrpyc's one-line errors.

Each function here gets what went wrong and returns the error to raise (`raise ... from None`: the
frames of a failed connect say nothing a user can act on).
"""

from __future__ import annotations

import socket
import ssl
from typing import Callable, Optional, Tuple

from hrpyc._auth import proof
from hrpyc._common.printable import printable_error
from hrpyc._wire.rpyc_versions import GENERATION, RPYC_VERSION_STRING
from hrpyc.errors import (
    AuthenticationError,
    HrpycError,
    ProtocolError,
    RequestTimeoutError,
    ServerNotFoundError,
    Setting,
    TooManyClientsError,
    VersionMismatchError,
)


def unknown_host(exc: Exception, address: str) -> HrpycError:
    """The host name did not resolve: socket.gaierror, or ValueError/UnicodeError for a name that is none
    (a NUL byte, a label of 64 characters or more)."""
    if isinstance(exc, socket.gaierror):
        return ServerNotFoundError.unknown_host(address, "unknown host: {}".format(exc.strerror))
    return ServerNotFoundError.unknown_host(address, "not a host name: {}".format(exc))


def unreachable(failed: OSError, address: str, reach: float) -> HrpycError:
    """No address of the server took our connection: `failed` is the last one's error."""
    if isinstance(failed, ConnectionRefusedError):
        return ServerNotFoundError(address, "connection refused")
    if isinstance(failed, socket.timeout):
        return ServerNotFoundError(address, "no answer within {:g} s".format(reach))
    return ServerNotFoundError(address, failed.strerror or str(failed))


def tls_failed(exc: OSError, address: str) -> HrpycError:
    """TLS did not start (ssl.SSLError, or socket.timeout: no TLS answer): the certificate says which of
    expired, self-signed, untrusted or wrong host; a busy gate refuses us in TLS's words."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or exc.reason
        return ProtocolError(
            address, "TLS failed: the server's certificate: {}; check HRPYC_TLS_CA / {}", why, Setting("cafile")
        )
    if isinstance(exc, ssl.SSLError):
        if exc.reason == proof.TLS_BUSY_REASON:
            return TooManyClientsError(address, busy=True)
        return ProtocolError(address, "TLS failed: {}; check HRPYC_TLS_CA / {}", exc.reason, Setting("cafile"))
    return ProtocolError(address, "no TLS answer (a server without TLS?)")


def handshake_failed(
    exc: Exception, address: str, reach: float, header: Optional[bytes], asks_for_token: Callable[[], bool]
) -> HrpycError:
    """rpyc's connection or our handshake failed with `exc`. `header`: the first frame header the server
    sent, when we showed no token (None when we did: challenge.prove read the gate's answer then);
    `asks_for_token()` is asked only when such a server hung up at once."""
    if isinstance(exc, RequestTimeoutError):
        return ProtocolError(address, "no rpyc answer within {:g} s".format(reach))
    others = proof.busy_others(header) if header is not None else None
    if others is not None:
        return TooManyClientsError(address, busy=True, others=others)
    if isinstance(exc, EOFError):
        if header is not None and asks_for_token():
            return AuthenticationError.token_needed(address)
        return ProtocolError(
            address,
            "it closed the connection at once: it may want a token ({} or HRPYC_TOKEN) or TLS, or speak "
            "another rpyc generation (rpyc 6 and rpyc < 6 cannot talk unless the server is hrpyc)",
            Setting("token"),
        )
    mismatch = _other_generation(exc)
    if mismatch is not None:
        return VersionMismatchError(address, *mismatch)
    return ProtocolError(address, printable_error(exc))


def _other_generation(exc: BaseException) -> Optional[Tuple[str, str, str]]:
    """(server, client, fix) when rpyc's error means the server speaks the other generation's envelope."""
    if not isinstance(exc, ValueError) or GENERATION.other_answer_error not in str(exc):
        return None
    fix = "pip install {} for this client, or serve with hrpyc there (it answers every rpyc)".format(
        GENERATION.other_requirement
    )
    return GENERATION.other, "rpyc " + RPYC_VERSION_STRING, fix
