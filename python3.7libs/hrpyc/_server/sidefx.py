"""Server side: SideFX's module surface - the rpyc names SideFX's hrpyc.py imports at module level.

Public Houdini tools build their own server from them, `hrpyc.ThreadedServer(hrpyc.SlaveService,
hostname=..., port=..., reuse_addr=True, registrar=None, auto_register=False)`, set `logger.quiet`,
run `start()` on a thread, read `port` and later `close()` it; once installed, this package is
`hrpyc` inside Houdini, so those names must be here and behave as rpyc's did.
"""

from __future__ import annotations

import socket
from typing import Any

import rpyc
from rpyc.core import SlaveService
from rpyc.utils.classic import DEFAULT_SERVER_PORT
from rpyc.utils.registry import REGISTRY_PORT

from hrpyc._common.address import is_loopback
from hrpyc._server.gate import warn_insecure
from hrpyc._server.rpyc_hooks import BridgingServer

__all__ = ["DEFAULT_SERVER_PORT", "REGISTRY_PORT", "SlaveService", "ThreadedServer", "rpyc"]


class ThreadedServer(BridgingServer):
    """rpyc's ThreadedServer, as SideFX's hrpyc module offered it: the same arguments, `logger.quiet`,
    `port` once bound (port 0 included), `start()` (blocking), `close()`, subclassing; requests run
    on connection threads, as SideFX's did.

    What hrpyc adds, none of which changes that contract: TCP_NODELAY on accepted sockets (no 40 ms
    stalls), clients of every rpyc generation answered (4.1 to 6, whatever rpyc this Houdini bundles),
    a stop that prints no traceback, and a loud log line when it listens beyond loopback with no
    authenticator - it cannot refuse to, as hrpyc.Server does, without breaking the tools that build it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unix = self.listener.family == getattr(socket, "AF_UNIX", None)  # socket_path=: this machine only
        if self.authenticator is None and not unix and not is_loopback(self.host):
            warn_insecure(self.host, self.port, "built with hrpyc.ThreadedServer (give it an authenticator)")
