"""hrpyc: drive a running Houdini from any Python, through its `hou` module, over rpyc.

A drop-in for SideFX's `hrpyc` module. Inside Houdini::

    import hrpyc
    hrpyc.start_server()            # 127.0.0.1:18811; returns an hrpyc.Server you can stop()

From Maya, Nuke or any Python::

    connection, hou = hrpyc.import_remote_module()
    hou.node("/obj/sphere1").parm("scale").set(2.0)
"""

from hrpyc._cli import interrupts  # noqa: F401 - first: Ctrl-C while the `hrpyc` command loads, no traceback

# isort: split
from hrpyc._caller.connect import connect, import_remote_module
from hrpyc._caller.fastpath import fetch_attrib, fetch_file, push_file
from hrpyc._caller.job import Job, run, submit, undo_group
from hrpyc._common.version import __version__
from hrpyc._server.events import ServerEvent, subscribe, unsubscribe
from hrpyc._server.job_record import progress
from hrpyc._server.lifecycle import running_server, start_server, stop_server
from hrpyc._server.server import Server
from hrpyc._server.sidefx import DEFAULT_SERVER_PORT, REGISTRY_PORT, SlaveService, ThreadedServer
from hrpyc._server.sidefx import rpyc as rpyc  # SideFX's module has it; a module, so not in __all__
from hrpyc._wire.client_info import ClientInfo
from hrpyc.errors import (
    AuthenticationError,
    BindError,
    CancelledError,
    ConfigError,
    ConnectionLostError,
    DispatchError,
    HoudiniBusyError,
    HrpycError,
    InsecureBindError,
    JobTimeoutError,
    MultipleSessionsError,
    NotYourServerError,
    PortInUseError,
    ProtocolError,
    RemoteImportError,
    RequestTimeoutError,
    ServerAlreadyRunningError,
    ServerNotFoundError,
    TooManyClientsError,
    TransferError,
    UnsafeFileError,
    VersionMismatchError,
)

__all__ = [
    "__version__",
    # serving, inside Houdini
    "start_server",
    "stop_server",
    "running_server",
    "Server",
    "ClientInfo",
    "subscribe",
    "unsubscribe",
    "ServerEvent",
    # connecting, from anywhere
    "import_remote_module",
    "connect",
    "run",
    "submit",
    "Job",
    "undo_group",
    # in a job's code, on the server
    "progress",
    "fetch_attrib",
    "fetch_file",
    "push_file",
    # errors
    "HrpycError",
    "BindError",
    "PortInUseError",
    "InsecureBindError",
    "ServerAlreadyRunningError",
    "ConfigError",
    "UnsafeFileError",
    "DispatchError",
    "ServerNotFoundError",
    "ProtocolError",
    "ConnectionLostError",
    "TransferError",
    "AuthenticationError",
    "NotYourServerError",
    "TooManyClientsError",
    "VersionMismatchError",
    "MultipleSessionsError",
    "RemoteImportError",
    "CancelledError",
    "JobTimeoutError",
    "RequestTimeoutError",
    "HoudiniBusyError",
    # SideFX's module surface: the rpyc names its hrpyc.py imports, which tools build servers from
    # (and `hrpyc.rpyc`, a module, so not listed)
    "ThreadedServer",
    "SlaveService",
    "DEFAULT_SERVER_PORT",
    "REGISTRY_PORT",
]
