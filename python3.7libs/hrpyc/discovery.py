"""Both sides: finding hrpyc sessions: this user's on this machine (session records), and, with
HRPYC_REGISTRY, every machine's through rpyc's own registry server (`rpyc_registry`, UDP or TCP).

A registry address is always explicit: rpyc's UDP client would otherwise broadcast to the network.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from rpyc.utils.registry import TCPRegistryClient, UDPRegistryClient

from . import config, sessions
from .address import is_loopback, parse_address
from .errors import ConfigError, MultipleSessionsError

SERVICE_NAME = "HRPYC"  # what the server registers: rpyc names a service after its class, less "Service"
REGISTRY_PORT = 18811  # rpyc's default registry port (UDP, or TCP with tcp://)


def registrar(text: Optional[str] = None) -> Optional[Any]:
    """An rpyc registry client for `text` or HRPYC_REGISTRY: HOST, HOST:PORT, udp://... or tcp://...;
    None when neither is set."""
    text = (text if text is not None else config.registry_setting()).strip()
    if not text:
        return None
    scheme, _, rest = text.rpartition("://")
    if scheme not in ("", "udp", "tcp"):
        raise ConfigError("HRPYC_REGISTRY", text, "HOST[:PORT], udp://HOST[:PORT] or tcp://HOST[:PORT]")
    try:
        host, port = parse_address(rest, default_port=REGISTRY_PORT)
    except ValueError:
        raise ConfigError("HRPYC_REGISTRY", text, "HOST[:PORT], udp://HOST[:PORT] or tcp://HOST[:PORT]") from None
    client = TCPRegistryClient if scheme == "tcp" else UDPRegistryClient
    return client(ip=host, port=port, timeout=2)


def registered(text: Optional[str] = None) -> List[Tuple[str, int]]:
    """The (host, port) of every hrpyc server the registry knows."""
    client = registrar(text)
    if client is None:
        return []
    return sorted({(str(host), int(port)) for host, port in client.discover(SERVICE_NAME)})


def local_port(host: str) -> Optional[int]:
    """The port of this user's only hrpyc session on this machine, None when there is none; with
    several, MultipleSessionsError lists them."""
    if not is_loopback(host):
        return None
    live = sessions.live()
    if len(live) > 1:
        raise MultipleSessionsError([describe(record) for record in live])
    return int(live[0]["port"]) if live else None


def runs_in(record: sessions.Record) -> str:
    """'Houdini 20.5.370' for a Houdini session, 'the demo scene (Python 3.11.7), not Houdini' for
    `hrpyc serve --demo`, else 'Python 3.11.7'."""
    if record.get("demo"):
        return "the demo scene (Python {}), not Houdini".format(record.get("python", "?"))
    if record.get("houdini"):
        return "Houdini {}".format(record["houdini"])
    return "Python {}".format(record.get("python", "?"))


def describe(record: sessions.Record) -> str:
    scene = " {}".format(record["scene"]) if record.get("scene") else ""
    return "port {} (pid {}, {}{})".format(record.get("port"), record.get("pid"), runs_in(record), scene)
