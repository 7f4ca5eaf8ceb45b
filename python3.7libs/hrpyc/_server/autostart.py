"""Server side: start the server when the environment asks for it (HRPYC_AUTOSTART=1): the one function
every Houdini hook calls, acting once per process however many hooks fire and scenes load.

Settings: HRPYC_HOST, HRPYC_PORT (a port, or a range taking the first free one), and every variable
hrpyc.Server reads (HRPYC_DISPATCH, HRPYC_TIMEOUT, HRPYC_TOKEN, HRPYC_TLS_*, ...).

Child processes inherit the environment (TOPs/PDG hython workers, render fetches). The process whose
autostart takes the port records its pid in HRPYC_AUTOSTART_PID, so a child knows the port is its
parent's: with a single HRPYC_PORT it stays quiet and serves nothing; with a range it takes the next
free port and becomes a session of its own.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Optional

from hrpyc._common import config
from hrpyc._common.address import format_address
from hrpyc._houdini import houdini
from hrpyc._oslayer import console
from hrpyc._server.lifecycle import running_server, start_first_free
from hrpyc._server.server import Server
from hrpyc.errors import HrpycError

log = logging.getLogger(__name__)

_lock = threading.Lock()
_settled = False  # started, declined, or failed with its one line: later hooks do nothing


def from_hook(hook: str) -> Optional[Server]:
    """Start hrpyc if HRPYC_AUTOSTART asks for it, once; print one `hrpyc:` line on trouble; never raise."""
    global _settled
    with _lock:
        if _settled:
            return running_server()
        try:
            if not config.autostart():
                _settled = True
                return None
            if not houdini.can_serve_now():
                log.debug("hrpyc: %s: waiting for Houdini's UI before starting", hook)
                return None  # a graphical Houdini before its UI: a later hook starts it
            _settled = True
            return _start()
        except HrpycError as exc:
            _settled = True
            console.say("hrpyc: not started: {}".format(exc.worded(config.as_variable)))
        except Exception as exc:  # never break Houdini's start-up
            _settled = True
            console.say("hrpyc: not started: {}: {}".format(type(exc).__name__, exc))
        return None


def _start() -> Optional[Server]:
    host, ports = config.host(), config.ports()
    inherited = config.autostart_owner() not in ("", str(os.getpid()))
    if inherited and len(ports) == 1:
        log.info("hrpyc: port %d belongs to the parent process; not starting", ports[0])
        return None
    server = start_first_free(ports, "HRPYC_PORT={}-{}".format(ports[0], ports[-1]), host=host)
    os.environ[config.AUTOSTART_OWNER] = str(os.getpid())
    console.say(
        "hrpyc: listening on {} (dispatch {}, credential {})".format(
            format_address(*server.address), server.dispatch, server.credential
        )
    )
    return server
