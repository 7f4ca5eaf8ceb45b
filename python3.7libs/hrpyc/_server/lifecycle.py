"""Server side: the one server a process runs through the module API, as SideFX's hrpyc offers
(`start_server`, `stop_server`, `running_server`), and what starts or replaces it for autostart, the
`hrpyc serve` command and the panel.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, Optional, Sequence

from hrpyc._common import config
from hrpyc._common.address import DEFAULT_HOST, DEFAULT_PORT, format_address, same_address
from hrpyc._server.main_thread_dispatch import CallerDispatcher
from hrpyc._server.server import ServedHere, Server
from hrpyc.errors import HrpycError, PortInUseError, ServerAlreadyRunningError

__all__ = ["restart_server", "running_server", "start_server", "stop_server"]

log = logging.getLogger(__name__)

# The one server a process runs through the module API, as SideFX's hrpyc offers.
_running: Optional[Server] = None
_running_lock = threading.Lock()


def start_server(
    port: int = DEFAULT_PORT,
    use_thread: bool = True,
    quiet: bool = True,
    *,
    host: str = DEFAULT_HOST,
    **options: Any,
) -> Server:
    """Start this process's hrpyc server, or return the one already running on the same address.

    SideFX's signature, plus `host` (loopback unless you ask) and the keywords of `hrpyc.Server`
    (dispatch, timeout, token, certfile, keyfile, cafile, allow_insecure, allow_other_users, max_clients,
    compress).
    `use_thread=False` serves in the calling thread until the server stops, and - unless `dispatch`
    or HRPYC_DISPATCH says otherwise - runs every request there, one at a time (dispatch 'caller').
    """
    global _running
    if not quiet:
        _log_to_stderr()
    here = not use_thread and options.get("dispatch") is None and config.dispatch_mode() == "auto"
    with _running_lock:
        server = running_server()
        if server is not None:
            if not same_address(server.address, host, port):
                raise ServerAlreadyRunningError(format_address(*server.address), format_address(host, port))
            if here and server.dispatch != CallerDispatcher.name:
                log.warning(
                    "hrpyc: %s was already serving (dispatch %s, autostart?); serving it here, its requests "
                    "keep running where they did",
                    format_address(*server.address),
                    server.dispatch,
                )
        else:
            server = _running = (ServedHere if here else Server)(host, port, **options).start()
    if not use_thread:
        server.serve_forever()
    return server


def start_first_free(ports: Sequence[int], named: Any, *, host: str = DEFAULT_HOST, **options: Any) -> Server:
    """start_server() on the first free port of `ports`: a range (HRPYC_PORT, `hrpyc serve --port A-B`), or
    one port, whose PortInUseError is raised. `named`: where the range came from (a Setting, or
    'HRPYC_PORT=A-B'), for the error when every port of it is taken."""
    for port in ports:
        try:
            return start_server(port, host=host, **options)
        except PortInUseError:
            if len(ports) == 1:
                raise
    raise HrpycError("every port of {} on {} is in use; widen the range", named, host)


def restart_server(port: int = DEFAULT_PORT, *, host: str = DEFAULT_HOST, **options: Any) -> Server:
    """This process's server, replaced by one on host:port with `options` (see start_server); a
    refusal (bad option, no credential beyond loopback, port taken) raises and leaves the running
    server and its clients untouched.

    The new server binds before the old one stops. On the same port that cannot be (one port, one
    listener): every check the new server makes before it binds has passed when only the bind fails,
    so the old one stops and the new one binds at once. Only another process taking the port in that
    instant can still refuse it: then PortInUseError is raised and no server runs.
    """
    global _running
    with _running_lock:
        old = running_server()
        try:
            new = Server(host, port, **options)
        except PortInUseError:
            if old is None or port != old.address[1]:
                raise
            old.stop()
            _running = None
            new = Server(host, port, **options)  # the port was old's: free now
        else:
            if old is not None:
                old.stop()
        _running = new.start()
    return new


def stop_server() -> None:
    """Stop this process's server, if one runs."""
    global _running
    with _running_lock:
        server, _running = _running, None
    if server is not None:
        server.stop()


def running_server() -> Optional[Server]:
    """This process's running server, or None."""
    server = _running
    return server if server is not None and server.is_alive() else None


def _log_to_stderr() -> None:
    """quiet=False: show hrpyc's events, as SideFX's server showed rpyc's."""
    logger = logging.getLogger("hrpyc")
    if not any(getattr(h, "stream", None) is sys.stderr for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
