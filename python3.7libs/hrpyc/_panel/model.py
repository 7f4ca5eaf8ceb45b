"""Server side: what the panel shows and remembers, without Qt: validation, status, the snippet, settings."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import time
from typing import Any, Dict, List, Optional, Tuple

from hrpyc._common import config, discovery, sessions, userdir
from hrpyc._common.address import format_address, is_loopback
from hrpyc._common.printable import printable
from hrpyc._houdini import houdini
from hrpyc._server.events import ServerEvent
from hrpyc.errors import BindError, ConfigError, InsecureBindError, PortInUseError, UnsafeFileError

LOOPBACK, ALL_INTERFACES = "127.0.0.1", "0.0.0.0"
HOST_CHOICES = (("This machine only", LOOPBACK), ("All interfaces", ALL_INTERFACES), ("An address...", ""))
NO_TOKEN, AUTO_TOKEN, TYPED_TOKEN = "none", "auto", "typed"
CREDENTIAL_CHOICES = (("None", NO_TOKEN), ("This user's auto token", AUTO_TOKEN), ("A token you type", TYPED_TOKEN))
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*$")


def host_problem(text: str) -> Optional[str]:
    """Why `text` cannot be listened on, or None."""
    text = text.strip()
    if not text:
        return "Host: Enter an address of this machine, such as 192.168.1.20."
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    if not _HOSTNAME.match(text):
        return "Host: '{}' is neither an IP address nor a host name.".format(text)
    if text.rsplit(".", 1)[-1].isdigit():  # no top-level domain is a number: an address mistyped
        return "Host: '{}' is not an IP address (four numbers from 0 to 255, such as 192.168.1.20).".format(text)
    return None


def port_problem(text: str) -> Optional[str]:
    text = text.strip()
    if not text.isdigit():
        return "Port: The port must be a number from 1 to 65535 (0 picks a free one)."
    if int(text) > 65535:
        return "Port: The port must be at most 65535."
    return None


def token_problem(choice: str, text: str) -> Optional[str]:
    """Why the typed token cannot be used, or None (other choices type nothing): config.token_problem's
    rule, the one `hrpyc serve --token` and `token=` follow."""
    if choice != TYPED_TOKEN:
        return None
    if not text:
        return "Token: type the token clients will show, or choose This user's auto token."
    if text == "auto":
        return "Token: 'auto' means this user's auto token; choose This user's auto token instead."
    problem = config.token_problem(text)
    return "Token: {}, or choose This user's auto token.".format(problem[0].upper() + problem[1:]) if problem else None


def exposure_problem(host: str, choice: str) -> Optional[str]:
    """Why the server would refuse to listen on `host` with this credential, or None."""
    if choice != NO_TOKEN or is_loopback(host) or tls_client_certificates():
        return None
    try:
        if config.flag("HRPYC_ALLOW_INSECURE"):
            return None  # the environment accepts it; the status says INSECURE
    except ConfigError:
        pass
    return (
        "Credential: None lets anyone who reaches {} run code here; choose This user's auto token or "
        "A token you type (or This machine only).".format(host)
    )


def tls_client_certificates() -> bool:
    """True when HRPYC_TLS_CA makes clients show a certificate: a credential in itself."""
    try:
        return config.tls_files(None, None, None)[2] is not None
    except ConfigError:
        return False  # the server says what is wrong when it starts


def tls_text() -> str:
    """What the panel says about TLS, from HRPYC_TLS_CERT / HRPYC_TLS_KEY / HRPYC_TLS_CA."""
    try:
        certfile, _, cafile = config.tls_files(None, None, None)
    except ConfigError as exc:
        return "TLS: " + str(exc)
    if certfile is None:
        return "TLS: off (set HRPYC_TLS_CERT and HRPYC_TLS_KEY before Houdini starts to turn it on)"
    who = "clients must show a certificate signed by {}".format(cafile) if cafile else "no client certificates"
    return "TLS: on, with {} ({})".format(os.path.basename(certfile), who)


def refusal(exc: Exception, host: str, port: int) -> Tuple[str, Optional[int]]:
    """What the panel says when the server refuses its fields, naming the field, and the next free port
    when the port is taken (None otherwise)."""
    if isinstance(exc, PortInUseError):
        free = next_free_port(host, port)
        text = "Port: {} is already in use by {}".format(port, discovery.port_holder(port) or "another program")
        return text + ("; port {} is free.".format(free) if free else "."), free
    if isinstance(exc, InsecureBindError):
        return exposure_problem(host, NO_TOKEN) or str(exc), None
    if isinstance(exc, BindError):
        reason = getattr(exc.__context__, "strerror", None) or "it cannot be listened on"
        return "Host: {} is not an address of this machine ({}); choose This machine only.".format(host, reason), None
    return str(exc), None


def next_free_port(host: str, port: int, tries: int = 100) -> Optional[int]:
    """The first port after `port` that `host` can listen on now, or None within `tries`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            if os.name != "nt":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as rpyc binds
            try:
                probe.bind((host, candidate))  # as the server binds: a port another socket listens on fails
                return candidate
            except OSError:
                continue
    return None


def client_name(client: Any) -> str:
    """A client's address and who it is (ClientInfo.who: program, pid, user@host, or 'stock rpyc client'),
    as the client said it: escaped."""
    return printable("{} {}".format(format_address(*client.address), client.who), 400)


def client_rows(clients: List[Any]) -> List[Tuple[int, str, str, str, str]]:
    """The client table's rows (view.show_clients): each client with its jobs, as the API lists them."""
    rows = []
    for client in clients:
        last = time.strftime("%H:%M:%S", time.localtime(client.last_request_at)) if client.last_request_at else "-"
        since = time.strftime("%H:%M:%S", time.localtime(client.connected_at))
        name = "; ".join((client_name(client),) + client.jobs)
        rows.append((client.id, name, since, str(client.requests), last))
    return rows


def status(server: Any, error: str) -> Tuple[str, str]:
    """(state, sentence): state is 'listening', 'error' or 'stopped' - the view colours it."""
    if server is not None and server.is_alive():
        host, port = server.address
        exposure = "reachable from other machines" if not is_loopback(host) else "this machine only"
        credential = {"token": "token required", "certificate": "client certificate required"}.get(
            server.credential, "no credential"
        )
        credential += {  # who on this machine may connect
            "owner": ", this user's processes only",
            "refuse local": ", no process on this machine (this system cannot tell which user connects: ask for "
            "a token, or allow other users)",
        }.get(server.protection, ", any user's processes")
        if dict(server.describe()).get("tls") == "yes":
            credential += ", over TLS"
        text = "Listening on {} - {}, {}, requests run on the {} thread".format(
            format_address(host, port), exposure, credential, "main" if server.dispatch != "thread" else "client's"
        )
        if server.exposed and server.credential == "none":
            text += " - INSECURE: anyone who can reach it can run code here"
        return "listening", text
    if error:
        return "error", "Not running: {}".format(error)
    return "stopped", "Stopped"


def rotation_question(uses_it: bool) -> str:
    """What the panel asks before it makes a new auto token: `uses_it`, the running server uses the old one
    (and restarts with the new); other sessions using it keep the old one."""
    question = (
        "Make a new auto token? Clients of this user on this machine read it when they next connect; "
        "clients elsewhere need the new one copied to them."
    )
    if uses_it:
        question += " The server restarts with it: connected clients will be disconnected."
    others = [
        "{} (pid {})".format(discovery.runs_in(record), record.get("pid"))
        for record in sessions.live()
        if record.get("token_source") == "auto" and record.get("pid") != os.getpid()
    ]
    if others:
        question += (
            " Other sessions of yours use the auto token and keep the old one until they restart; this "
            "user's clients here are refused by them meanwhile: {}.".format(", ".join(others[:5]))
        )
    return question


def rotated(path: str, used_it: bool) -> str:
    """What the panel says once a new auto token is written to `path`; `used_it`: the server restarted."""
    return (
        "New auto token written to {}. Local clients of this user read it when they connect; give it "
        "(Copy) to clients on other machines - the old one no longer works{}.".format(
            path, "" if used_it else " once the server restarts"
        )
    )


def snippet(server: Any) -> str:
    """Python to paste into a Maya or Nuke shell to reach this server; never the secret itself."""
    host, port = server.address
    if host in (ALL_INTERFACES, "::"):
        host = socket.gethostname()
    lines = ["import hrpyc", "connection, hou = hrpyc.import_remote_module({!r}, {})".format(host, port)]
    if server.credential == "token" and server.token_source == "auto" and not server.exposed:
        lines[1] = lines[1][:-1] + ", token='auto')  # this user's auto token, found on this machine"
    elif server.credential == "token":
        lines[1] = lines[1][:-1] + ", token=TOKEN)"
        lines.insert(1, "TOKEN = '...'  # " + _TOKEN_WORDS.get(server.token_source, _TOKEN_WORDS["given"]))
    elif server.credential == "certificate":
        lines[1] = lines[1][:-1] + ", cafile='ca.pem', certfile='me.pem', keyfile='me.key')"
    return "\n".join(lines) + "\n"


_TOKEN_WORDS = {  # what the snippet says TOKEN is, by where the server's token came from (Server.token_source)
    "auto": "this user's auto token (the panel's Copy); on this machine, token='auto' finds it",
    "given": "the token the server was given (the panel's typed token, or HRPYC_TOKEN)",
}


def event_line(event: ServerEvent) -> str:
    """One line of the event log; what a client said in it (who it is, why it left) is escaped."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    who = client_name(event.client) if event.client is not None else format_address(*event.server)
    text = "{} {:<12} {}".format(stamp, event.kind, who)
    return text + (" - " + printable(event.message, 400) if event.message else "")


class Settings(object):
    """Host, port, credential kind and whether the server was running, remembered across sessions of
    this Houdini version (each major.minor, and plain Python, keeps its own: a second Houdini never
    overwrites the first's) - unless the autostart environment decides them (`from_environment`).
    A typed token is never written down: the panel asks for it again."""

    LEGACY = "panel.json"  # before settings were kept per version: read when this version has none

    def __init__(self, path: Optional[str] = None, release: Optional[str] = None) -> None:
        self.problem = ""  # why nothing is remembered, when the per-user folder cannot be trusted
        self.release = release or houdini.release() or "python"
        folder = ""
        try:
            folder = userdir.checked_state_dir()
            self.path = path or os.path.join(folder, "panel-{}.json".format(self.release))
        except UnsafeFileError as exc:
            self.path, self.problem = "", str(exc)
        self.host, self.port, self.running, self.credential = LOOPBACK, config.DEFAULT_PORT, False, NO_TOKEN
        self.from_environment = False
        try:
            self.from_environment = config.autostart()
            if self.from_environment:
                self.host, self.port = config.host(), config.ports()[0]
                self.credential = _credential_of(config.token_setting())
        except ConfigError:
            pass  # autostart said why in its own line; show what the panel remembers, or the defaults
        if self.from_environment:
            return
        try:
            text = self.path and userdir.read_private(self.path)
            if not text and folder and path is None:
                text = userdir.read_private(os.path.join(folder, self.LEGACY))
            saved: Dict[str, Any] = json.loads(text or "{}")
            self.host = str(saved.get("host", self.host))
            self.port = int(saved.get("port", self.port))
            self.running = bool(saved.get("running", False))
            credential = saved.get("credential", NO_TOKEN)
            self.credential = credential if credential in (NO_TOKEN, AUTO_TOKEN, TYPED_TOKEN) else NO_TOKEN
        except UnsafeFileError as exc:
            self.problem = str(exc)
        except (OSError, ValueError, TypeError):
            pass  # not written yet, or not by us: the defaults

    def save(self) -> None:
        if self.from_environment or not self.path:
            return
        data = {"host": self.host, "port": self.port, "running": self.running, "credential": self.credential}
        userdir.write_private(self.path, json.dumps(data))


def environment_token() -> str:
    """HRPYC_TOKEN (or HRPYC_TOKEN_FILE's), '' when unset, 'auto' or unusable."""
    try:
        token = config.token_setting() or ""
    except ConfigError:
        return ""
    return "" if token == "auto" else token


def server_credential(server: Any) -> str:
    """The credential choice a running server stands for."""
    return {"auto": AUTO_TOKEN, "given": TYPED_TOKEN}.get(server.token_source, NO_TOKEN)


def _credential_of(token: Optional[str]) -> str:
    """The credential choice a token setting (an argument, HRPYC_TOKEN) stands for."""
    return AUTO_TOKEN if token == "auto" else (TYPED_TOKEN if token else NO_TOKEN)
