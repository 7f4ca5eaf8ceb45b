"""Both sides: finding hrpyc sessions: this user's on this machine (session records), and, with
HRPYC_REGISTRY, every machine's through rpyc's own registry server (`rpyc_registry`, UDP or TCP).

A registry address is always explicit: rpyc's UDP client would otherwise broadcast to the network.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, List, Optional, Tuple

from rpyc.utils.registry import TCPRegistryClient, UDPRegistryClient

from hrpyc._common import config, sessions
from hrpyc._common.address import is_loopback, parse_address
from hrpyc._common.printable import printable
from hrpyc.errors import ConfigError, HrpycError, MultipleSessionsError, UnsafeFileError

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


def registered(text: Optional[str] = None) -> Tuple[List[Tuple[str, int]], int]:
    """The (host, port) of every hrpyc server the registry knows, and how many of its entries are not
    an IP address and a port (anyone can register anything; rpyc's registry records addresses only)."""
    client = registrar(text)
    if client is None:
        return [], 0
    where = printable("{}:{}".format(client.ip, client.port), 80)
    try:
        entries = client.discover(SERVICE_NAME)
    except OSError as exc:  # a TCP registry that is not there
        raise HrpycError("the registry at {} does not answer ({}); is it running?".format(where, exc.strerror or exc))
    except Exception:  # rpyc could not read what came back
        entries = None
    if type(entries) is not tuple:
        raise HrpycError("the registry at {} answered with something else than a registry's list".format(where))
    found = [entry for entry in entries if _is_address(entry)]
    return sorted(set(found)), len(entries) - len(found)


def _is_address(entry: Any) -> bool:
    """Is this registry entry an (IP address, port) pair?"""
    if type(entry) is not tuple or len(entry) != 2 or type(entry[0]) is not str or type(entry[1]) is not int:
        return False
    try:
        ipaddress.ip_address(entry[0].split("%", 1)[0])  # an IPv6 address may name its interface: fe80::1%eth0
    except ValueError:
        return False
    return 0 < entry[1] < 65536


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
    python = printable(record.get("python", "?"), 40)
    if record.get("demo"):
        return "the demo scene (Python {}), not Houdini".format(python)
    if record.get("houdini"):
        return "Houdini {}".format(printable(record["houdini"], 40))
    return "Python {}".format(python)


def describe(record: sessions.Record) -> str:
    """A session in a sentence: 'port 18811 (pid 4242, Houdini 20.5.370 /proj/shot.hip)'."""
    scene = " {}".format(printable(record["scene"])) if record.get("scene") else ""
    return "port {} (pid {}, {}{})".format(record.get("port"), record.get("pid"), runs_in(record), scene)


def port_holder(port: int) -> str:
    """Who listens on `port`, when it is another hrpyc session of this user: 'hrpyc in Houdini 21.0.440
    (pid 4242)'; '' when that is not knowable (another program, another user's). What the panel and a
    PortInUseError say."""
    try:
        records = sessions.live()
    except (OSError, UnsafeFileError):
        return ""
    for record in records:
        if record.get("port") == port and record.get("pid") != os.getpid():
            return "hrpyc in {} (pid {})".format(runs_in(record), record.get("pid"))
    return ""
