"""Both sides: the TLS contexts of the server and of our client, with a one-line ConfigError for a
certificate, key or authority file that will not load."""

from __future__ import annotations

import ssl
from typing import Callable, Optional

from hrpyc._common import config
from hrpyc.errors import ConfigError


def server_context(certfile: str, keyfile: Optional[str], cafile: Optional[str]) -> ssl.SSLContext:
    """TLS for the server; with `cafile`, clients must present a certificate signed by it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # not left to OpenSSL: a 1.1.1 build accepts TLS 1.0
    _load(context.load_cert_chain, "certfile", certfile, keyfile)
    if cafile:
        _load(context.load_verify_locations, "cafile", cafile)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(cafile: Optional[str], certfile: Optional[str], keyfile: Optional[str]) -> ssl.SSLContext:
    """TLS for our client: the server's certificate is checked against `cafile` (host name included),
    or, without one, against the system's trusted authorities."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cafile:
        _load(context.load_verify_locations, "cafile", cafile)
    if certfile:
        _load(context.load_cert_chain, "certfile", certfile, keyfile)
    return context


def _load(load: Callable[..., None], name: str, path: str, *more: Optional[str]) -> None:
    """A certificate, key or authority file (`name`: certfile, cafile) read into a TLS context, or a one-line
    ConfigError."""
    try:
        load(path, *more)
    except (ssl.SSLError, ValueError) as exc:
        expected = "a PEM certificate and its key" if name == "certfile" else "a PEM certificate file"
        reason = getattr(exc, "reason", None) or exc
        raise ConfigError(config.tls_setting(name, path), path, "{} ({})".format(expected, reason)) from None
