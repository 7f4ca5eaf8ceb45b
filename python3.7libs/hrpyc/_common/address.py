"""Both sides: host and port handling shared by the server, the client and the CLI."""

from __future__ import annotations

import ipaddress
import socket
from typing import Optional, Tuple, Union

from hrpyc._common.config import DEFAULT_HOST as DEFAULT_HOST  # re-exported: client and server import them here
from hrpyc._common.config import DEFAULT_PORT as DEFAULT_PORT

Address = Tuple[str, int]
# A server listening on every address (a wildcard) is dialled on loopback, in its own family.
_WILDCARD_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def dialable(host: str) -> str:
    """The address to dial for a server listening on `host`: a wildcard (0.0.0.0, ::, '') is loopback's."""
    return _WILDCARD_LOOPBACK.get(host, host)


def is_loopback(host: str) -> bool:
    """True when `host` names this machine only, so nothing else on the network can reach it."""
    if host in _WILDCARD_LOOPBACK:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):  # UnicodeError: an empty label or one of 64 characters or more
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def is_ipv6(host: str) -> bool:
    return ":" in host


def format_address(host: str, port: int) -> str:
    return "[{}]:{}".format(host, port) if is_ipv6(host) else "{}:{}".format(host, port)


def same_address(bound: Address, host: str, port: int, resolve: bool = True) -> bool:
    """Is the listener bound at `bound` the one host:port asks for? Port 0 asks for any port; `host` is
    compared as it binds ("localhost" binds 127.0.0.1, "" binds 0.0.0.0), or as spelled with `resolve`
    False: a UI thread never waits on a name server."""
    bound_host, bound_port = bound
    if port not in (0, bound_port):
        return False
    if host == bound_host or not resolve:
        return host == bound_host
    try:
        infos = socket.getaddrinfo(host or None, bound_port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror:
        return False
    return any(info[4][0] == bound_host for info in infos)


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> Address:
    """`HOST`, `HOST:PORT`, `:PORT`, `PORT` or `[V6]:PORT` -> (host, port); ValueError says what is wrong."""
    text = text.strip()
    host, port_text = DEFAULT_HOST, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("{!r} has no closing ']'".format(text))
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("expected [HOST]:PORT, got {!r}".format(text))
        port_text = rest[1:]
    elif text.isdigit():
        port_text = text
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        host = host or DEFAULT_HOST
    elif text:
        host = text
    port = parse_port(port_text) if port_text else default_port
    return host, port


def parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValueError("port {!r} is not a number".format(text)) from None
    if not 0 <= port <= 65535:
        raise ValueError("port {} is outside 0-65535".format(port))
    return port


def server_and_port(server: Union[str, int], port: Optional[int]) -> Tuple[str, Optional[int]]:
    """connect()'s first two arguments as (host, port or None): `server` may be a host (`render07`, `::1`),
    `HOST:PORT`, `[V6]:PORT`, or a port number alone (`18811`, on this machine). ValueError for a port
    number out of range, or a port given twice; text that is none of those is a host name to look up
    (which then says it names no machine)."""
    if isinstance(server, bool) or not isinstance(server, (str, int)):
        raise ValueError("server={!r}: give a host name, 'HOST:PORT' or a port number".format(server))
    if isinstance(server, int):
        host, named = DEFAULT_HOST, parse_port(str(server))
    else:
        try:
            host, named = parse_address(server, default_port=-1)
        except ValueError:  # not HOST:PORT (a session record's or a registry's odd host, say)
            return server, port
    if named < 0:
        return host, port
    if port is not None and port != named:
        raise ValueError("server={!r} names port {} and port={}: give the port once".format(server, named, port))
    return host, named
