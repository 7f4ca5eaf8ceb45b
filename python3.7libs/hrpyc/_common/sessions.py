"""Both sides: local discovery: each running server keeps a record in this user's folder (never the
secret), removed when it stops; records of processes that died are recognised and ignored.

A record names its machine and its process's start time as well as its pid: a home folder shared over
NFS holds other machines' records (alive, but not here), and a pid is reused after its process dies
(another process, maybe another user's, would pass for the server; Windows reuses pids quickly). Each
OS says when a process started its own way: see _oslayer.process.
"""

from __future__ import annotations

import getpass
import ipaddress
import json
import os
import socket
import time
from typing import Any, Dict, List, Optional, Tuple

from hrpyc._common import userdir
from hrpyc._common.address import is_loopback
from hrpyc._oslayer import process

Record = Dict[str, Any]


def folder() -> str:
    """The records' folder, created and checked (see userdir)."""
    return userdir.private_folder(os.path.join(userdir.checked_state_dir(), "sessions"))


def _path(pid: int, port: int) -> str:
    return os.path.join(folder(), "{}-{}.json".format(pid, port))


def register(record: Record) -> str:
    """Write this server's record; returns its path, for unregister()."""
    record = dict(
        record,
        pid=os.getpid(),
        user=_user(),
        started=time.time(),
        machine=socket.gethostname(),
        process_started=process.started(os.getpid()),
    )
    path = _path(os.getpid(), record["port"])
    userdir.write_private(path, json.dumps(record, sort_keys=True))
    return path


def unregister(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def live() -> List[Record]:
    """Records of servers whose process is still alive, oldest first; dead ones are deleted."""
    records, here, where = [], socket.gethostname(), folder()
    for name in os.listdir(where):
        if not name.endswith(".json"):
            continue
        path = os.path.join(where, name)
        try:
            record = json.loads(userdir.read_private(path) or "")
            pid, port = record.get("pid"), record.get("port")
        except (ValueError, TypeError, AttributeError):
            continue  # not a record of ours (a half-written file, a stranger's format)
        if type(pid) is not int or type(port) is not int or not 0 < port < 65536:
            continue  # not ours either: a server's record names its pid and port as numbers
        if record.get("machine", here) != here:
            continue  # another machine's, on a shared home: not for us to judge, nor to reach as local
        if process.alive(pid) and record.get("process_started") == process.started(pid):
            records.append(record)
        else:
            unregister(path)
    return sorted(records, key=lambda r: r.get("started", 0))


def serving(peer: Tuple[str, int]) -> Optional[Record]:
    """The live record of this user's session that listens where `peer` is (an address on loopback our
    client reached), or None: whatever else holds a port of this machine is not one of ours."""
    host, port = peer[0], peer[1]
    if not is_loopback(host):
        return None
    for record in live():
        if record.get("port") == port and _listens_on(str(record.get("host", "")), host):
            return record
    return None


def _listens_on(listening: str, host: str) -> bool:
    """Does a server bound to `listening` (as its record says: an address, a name or a wildcard) take
    connections made to the address `host`?"""
    if listening in ("", "0.0.0.0"):
        return ":" not in host
    if listening == "::":
        return True  # dual-stack where the system allows it
    try:
        wanted = ipaddress.ip_address(host.split("%", 1)[0])
        infos = socket.getaddrinfo(listening, None, 0, socket.SOCK_STREAM)
    except (ValueError, OSError, UnicodeError):
        return False
    return any(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) == wanted for info in infos)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (some containers, services)
        return ""
