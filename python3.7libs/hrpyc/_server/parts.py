"""Server side: what one hrpyc server is made of - its dispatch, security, clients, jobs, undo groups, bulk
lanes and listener - built in the order each needs the others, and wired together, so that hrpyc.Server is
left with its life (start, serve, stop) and its public face.
"""

from __future__ import annotations

import os
import platform
from typing import Any, Optional, Tuple

from hrpyc._common import sessions
from hrpyc._common.version import __version__
from hrpyc._houdini import houdini
from hrpyc._server import binding, events
from hrpyc._server.clients import Clients
from hrpyc._server.gate import Security
from hrpyc._server.job_table import JobTable
from hrpyc._server.service import service_for
from hrpyc._server.thread_dispatch import Dispatcher
from hrpyc._server.undo import UndoGroups
from hrpyc._wire import plain
from hrpyc._wire.client_info import ClientInfo
from hrpyc._wire.lane import Lanes
from hrpyc._wire.rpyc_versions import RELEASE_CAPABILITY, RPYC_VERSION_STRING

About = Tuple[Tuple[str, str], ...]


class Parts(object):
    """One server's parts, wired; its listener is bound when this returns (errors surface here)."""

    def __init__(
        self,
        host: str,
        port: int,
        dispatcher: Dispatcher,
        security: Security,
        max_clients: int,
        timeout: Optional[float],
        compress: Optional[bool],
    ) -> None:
        """`timeout`: how long a stock client waits for an answer; `compress`: see hrpyc.Server."""
        self.dispatcher = dispatcher
        self.security = security
        self.address: Tuple[str, int] = (host, port)  # until the listener says what it bound
        self.about = _about(dispatcher.name, security)
        self.clients = Clients(max_clients, timeout, compress, dispatcher.run, self._left, self.tell)
        self.lanes = Lanes(security.hears_preambles)
        self.jobs = JobTable(dispatcher.start, dispatcher.runs_jobs_here, self.clients.who)
        self.undo = UndoGroups(dispatcher.start)
        dispatcher.who = self.clients.who
        sessions.folder()  # what can fail fails before the port is taken: a listener nobody could stop
        self.rpyc = binding.listen(
            service_for(self.describe, self.lanes, self.clients.introduce, self.clients.pairs, self.jobs, self.undo),
            host,
            port,
            security.gate(self.clients.has_room, self.clients.refused, self.lanes.find, max(64, 4 * max_clients)),
            serve_connection=self.clients.serve,
            serve_raw=self.lanes.serve,
        )
        self.address = (self.rpyc.host, self.rpyc.port)
        self.protection = binding.protection(self.rpyc, security.only_owner, security.credential)

    def describe(self) -> About:
        """What the server is, as clients see it (see hrpyc.Server.describe)."""
        return self.about + (("busy_for", "{:.1f}".format(self.dispatcher.busy_for())),)

    def tell(self, kind: str, client: Optional[ClientInfo] = None, message: str = "", count: int = 1) -> None:
        """An event of this server's, to whoever listens (see hrpyc._server.events)."""
        events.emit(events.ServerEvent(kind, self.address, client, message, count))

    def _left(self, conn: Any) -> None:
        """A client left: what it held here goes too."""
        self.lanes.close(conn)
        if not self.clients.closed:  # a stop lets running jobs end, as it lets requests end
            self.jobs.client_left(conn)
        self.undo.client_left(conn)


def _about(dispatch: str, security: Security) -> About:
    """What a server says of itself: to clients (hrpyc.Server.describe) and in its session record."""
    about: About = (
        ("hrpyc", __version__),
        ("rpyc", RPYC_VERSION_STRING),
        ("python", platform.python_version()),
        ("houdini", houdini.version() or ""),
        ("pid", str(os.getpid())),
        ("dispatch", dispatch),
        ("auth", security.credential),
        ("users", "owner" if security.only_owner else "any"),
        ("tls", "yes" if security.tls else "no"),
        RELEASE_CAPABILITY,
        plain.CAPABILITY,
    )
    if houdini.is_demo():  # hrpyc serve --demo: clients, ping and session records say it is not Houdini
        about += (("demo", "yes"),)
    return about
