"""Server side: a server's listening socket, bound at once so that its failure surfaces where the server is
built, said as ours (the port taken, or reserved by Windows; not a host name), and what the owner check can
do on it here.
"""

from __future__ import annotations

import logging
import socket
from typing import Any, Callable, Tuple

from hrpyc._common import discovery
from hrpyc._oslayer import owner, sockets
from hrpyc._server.rpyc_hooks import ListeningServer
from hrpyc.errors import BindError, PortInUseError

log = logging.getLogger(__name__)
# rpyc narrates every accept and goodbye at INFO; our events say the same once, in our words.
_rpyc_log = logging.getLogger("hrpyc.rpyc")
_rpyc_log.setLevel(logging.WARNING)


def listen(
    service: type,
    host: str,
    port: int,
    authenticator: Callable[[socket.socket], Tuple[Any, Any]],
    serve_connection: Callable[[Any], None],
    serve_raw: Callable[[socket.socket, Any], bool],
) -> ListeningServer:
    """rpyc's server for `service`, listening on host:port when this returns (see ListeningServer for the
    rest); BindError or PortInUseError when it cannot."""
    try:
        server = ListeningServer(
            service,
            host,
            port,
            authenticator=authenticator,
            logger=_rpyc_log,
            serve_connection=serve_connection,
            serve_raw=serve_raw,
            registrar=discovery.registrar(),
        )
        server.listen()
    except OSError as exc:
        why = sockets.bind_error(exc.errno)
        if why == sockets.RESERVED:
            raise PortInUseError.reserved(host, port, exc.errno or 0) from None
        if why == sockets.IN_USE:
            raise PortInUseError(host, port, discovery.port_holder(port)) from None
        raise BindError(host, port, exc.strerror or str(exc)) from None
    except (UnicodeError, ValueError) as exc:  # a name the resolver cannot encode (rpyc >= 5 resolves it here)
        raise BindError(host, port, "not a host name: {}".format(exc)) from None
    return server


def protection(server: ListeningServer, only_owner: bool, credential: str) -> str:
    """Who on this machine may connect to `server` (see hrpyc.Server.protection); with `only_owner`, what the
    owner check can do here, asked of our own listener once, and said if it falls short."""
    if not only_owner:
        return "credential only"
    found = owner.listener_owner(server.listener)
    if found.state == owner.OURS:
        return "owner"
    if found.blind and credential != "none":
        log.info(
            "hrpyc: this system cannot tell which user connects (%s): the %s is what keeps other users out",
            found.detail,
            credential,
        )
        return "credential only"
    log.warning(
        "hrpyc: this system cannot tell which user connects (%s), so every client on this machine will be "
        "refused; allow_other_users (HRPYC_ALLOW_OTHER_USERS=1) lets them in with the credential asked for",
        found.detail,
    )
    return "refuse local"
