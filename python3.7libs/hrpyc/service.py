"""What the server offers a client: rpyc's classic service (so stock clients work) plus a
description of itself that needs no `hou` and no main thread."""

from __future__ import annotations

import os
import platform
from typing import Tuple

from rpyc.core.service import SlaveService

from .rpyc_compat import RPYC_VERSION_STRING, ServerConnection
from .version import __version__

Info = Tuple[Tuple[str, str], ...]


class HrpycService(SlaveService):
    """rpyc's SlaveService, not classic's ClassicService: the server never asks for the client's root,
    so a connection costs one round trip less and the server never reaches into the client."""

    __slots__ = ()
    _protocol = ServerConnection
    info: Info = ()

    def hrpyc_info(self) -> Info:
        """Pairs rather than a dict: rpyc sends a tuple of strings by value, a dict as a proxy."""
        return self.info


def service_for(houdini_version: str) -> type:
    """The service class of one server, carrying that server's description."""
    info = (
        ("hrpyc", __version__),
        ("rpyc", RPYC_VERSION_STRING),
        ("python", platform.python_version()),
        ("houdini", houdini_version),
        ("pid", str(os.getpid())),
    )
    return type("HrpycService", (HrpycService,), {"__slots__": (), "info": info})
