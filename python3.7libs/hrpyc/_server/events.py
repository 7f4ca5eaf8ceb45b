"""Server side: what a server announces (started, stopped, a client came or went, an error) and who hears
it.

Listeners run on the thread where the event happened (a connection's thread, the caller of stop()),
never while a server holds its own locks; a GUI hands them on to its own thread (the panel does, through
qtloop's poster).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, List, Optional

from hrpyc._wire.client_info import ClientInfo

__all__ = ["ServerEvent", "subscribe", "unsubscribe"]

log = logging.getLogger(__name__)

STARTED = "started"
STOPPED = "stopped"
CONNECTED = "connected"
DISCONNECTED = "disconnected"
REFUSED = "refused"
ERROR = "error"


class ServerEvent(object):
    """One thing that happened to a server: `kind` is one of started, stopped, connected,
    disconnected, refused, error; `server` is its (host, port); `client` the ClientInfo it concerns.

    Refusals come at a bounded rate, as the log's do (see hrpyc._server.refusals): the first in a while at once,
    then one event summing up the rest; `count` is how many refusals an event stands for (1 otherwise).
    """

    __slots__ = ("client", "count", "kind", "message", "server", "time")

    def __init__(
        self, kind: str, server: tuple, client: Optional[ClientInfo] = None, message: str = "", count: int = 1
    ) -> None:
        self.kind = kind
        self.server = server
        self.client = client
        self.message = message
        self.count = count
        self.time = time.time()

    def __repr__(self) -> str:
        return "ServerEvent({!r}, server={!r}, client={!r}, message={!r}, count={!r})".format(
            self.kind, self.server, self.client, self.message, self.count
        )


Listener = Callable[[ServerEvent], None]

_lock = threading.Lock()
_listeners: List[Listener] = []


def subscribe(listener: Listener) -> None:
    """Call `listener(event)` for every event of every hrpyc server in this process."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    """Stop calling `listener`; harmless if it was not subscribed."""
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def emit(event: ServerEvent) -> None:
    """Tell every listener; one that raises is logged and does not stop the others or the server."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            log.exception("hrpyc event listener %r failed on %s", listener, event.kind)
