"""Server side: what the panel shows and remembers, without Qt: validation, status, the snippet, settings."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import time
from typing import Any, Dict, Optional, Tuple

from .. import config, userdir
from ..address import format_address, is_loopback
from ..errors import ConfigError, UnsafeFileError
from ..events import ServerEvent

LOOPBACK, ALL_INTERFACES = "127.0.0.1", "0.0.0.0"
HOST_CHOICES = (("This machine only", LOOPBACK), ("All interfaces", ALL_INTERFACES), ("An address...", ""))
LOG_SIZE = 300
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*$")


def host_problem(text: str) -> Optional[str]:
    """Why `text` cannot be listened on, or None."""
    text = text.strip()
    if not text:
        return "Enter an address of this machine, such as 192.168.1.20."
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    if not _HOSTNAME.match(text):
        return "'{}' is neither an IP address nor a host name.".format(text)
    return None


def port_problem(text: str) -> Optional[str]:
    text = text.strip()
    if not text.isdigit():
        return "The port must be a number from 1 to 65535 (0 picks a free one)."
    if int(text) > 65535:
        return "The port must be at most 65535."
    return None


def status(server: Any, error: str) -> Tuple[str, str]:
    """(state, sentence): state is 'listening', 'error' or 'stopped' - the view colours it."""
    if server is not None and server.is_alive():
        host, port = server.address
        exposure = "reachable from other machines" if not is_loopback(host) else "this machine only"
        credential = {"token": "token required", "certificate": "client certificate required"}.get(
            server.credential, "no credential, this user's processes only" if server.only_owner else "no credential"
        )
        text = "Listening on {} - {}, {}, requests run on the {} thread".format(
            format_address(host, port), exposure, credential, "main" if server.dispatch != "thread" else "client's"
        )
        if server.exposed and server.credential == "none":
            text += " - INSECURE: anyone who can reach it can run code here"
        return "listening", text
    if error:
        return "error", "Not running: {}".format(error)
    return "stopped", "Stopped"


def snippet(server: Any) -> str:
    """Python to paste into a Maya or Nuke shell to reach this server; never the secret itself."""
    host, port = server.address
    if host in (ALL_INTERFACES, "::"):
        host = socket.gethostname()
    lines = ["import hrpyc", "connection, hou = hrpyc.import_remote_module({!r}, {})".format(host, port)]
    if server.credential == "token":
        lines[1] = lines[1][:-1] + ", token=TOKEN)"
        lines.insert(1, "TOKEN = '...'  # this server's token: HRPYC_TOKEN, or token='auto' finds it for you")
    elif server.credential == "certificate":
        lines[1] = lines[1][:-1] + ", cafile='ca.pem', certfile='me.pem', keyfile='me.key')"
    return "\n".join(lines) + "\n"


def event_line(event: ServerEvent) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    client = event.client
    who = "{} {}".format(format_address(*client.address), client.who) if client else format_address(*event.server)
    text = "{} {:<12} {}".format(stamp, event.kind, who)
    return text + (" - " + event.message if event.message else "")


class Settings(object):
    """Host, port and whether the server was running, remembered across Houdini sessions - unless the
    autostart environment decides them (`from_environment`)."""

    def __init__(self, path: Optional[str] = None) -> None:
        self.problem = ""  # why nothing is remembered, when the per-user folder cannot be trusted
        try:
            self.path = path or os.path.join(userdir.state_dir(), "panel.json")
        except UnsafeFileError as exc:
            self.path, self.problem = "", str(exc)
        self.host, self.port, self.running = LOOPBACK, config.DEFAULT_PORT, False
        self.from_environment = False
        try:
            self.from_environment = config.autostart()
            if self.from_environment:
                self.host, self.port = config.host(), config.ports()[0]
        except ConfigError:
            pass  # autostart said why in its own line; show what the panel remembers, or the defaults
        if self.from_environment:
            return
        try:
            saved: Dict[str, Any] = json.loads((self.path and userdir.read_private(self.path)) or "{}")
            self.host = str(saved.get("host", self.host))
            self.port = int(saved.get("port", self.port))
            self.running = bool(saved.get("running", False))
        except UnsafeFileError as exc:
            self.problem = str(exc)
        except (OSError, ValueError, TypeError):
            pass  # not written yet, or not by us: the defaults

    def save(self) -> None:
        if self.from_environment or not self.path:
            return
        data = {"host": self.host, "port": self.port, "running": self.running}
        userdir.write_private(self.path, json.dumps(data))
