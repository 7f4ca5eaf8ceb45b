"""What the server offers a client: rpyc's classic service (so stock clients work) plus a
handshake and a description of itself that need no `hou` and no main thread."""

from __future__ import annotations

import ast
from typing import Any, Callable, Dict, Optional, Tuple

from rpyc.core.service import SlaveService

from . import houdini
from .rpyc_compat import ServerConnection

# Pairs rather than a dict: rpyc sends a tuple of strings by value, a dict as a proxy.
Info = Tuple[Tuple[str, str], ...]


class HrpycService(SlaveService):
    """rpyc's SlaveService, not classic's ClassicService: the server never asks for the client's root,
    so a connection costs one round trip less and the server never reaches into the client.

    Its `hrpyc_*` methods are answered on the connection's thread (see rpyc_compat.Request.light).
    """

    __slots__ = ()
    _protocol = ServerConnection

    def describe(self) -> Info:
        raise NotImplementedError  # each server's own subclass says what it is

    def hrpyc_info(self) -> Info:
        """What this server is: hrpyc, rpyc, Python and Houdini versions, pid, dispatch, busy time."""
        return self.describe()

    def hrpyc_hello(self, timeout: Optional[float]) -> Info:
        """Our client's handshake: how long it waits for an answer, so the server can say
        "busy" before the client gives up; answers with hrpyc_info()."""
        if timeout is None or (isinstance(timeout, (int, float)) and timeout > 0):
            self._conn.timeout = timeout
        return self.describe()

    def run_code(self, source: str, name: str, arguments: str) -> str:
        """hrpyc.run(): run a code block, or define a function and call it, in a fresh namespace;
        answer with plain data as a Python literal (safe for the client to read, whatever its rpyc)."""
        namespace: Dict[str, Any] = {"__name__": "__hrpyc_run__"}
        exec(compile(source, "<hrpyc.run>", "exec"), namespace)
        if name:
            args, kwargs = ast.literal_eval(arguments)
            value = namespace[name](*args, **kwargs)
        else:
            value = namespace.get("result")
        text = repr(value)
        try:
            ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise TypeError(
                "hrpyc.run returns plain data (numbers, strings, bytes, lists, tuples, dicts, sets, None), "
                "not {}".format(type(value).__name__)
            ) from None
        return text

    def attrib_buffer(self, node_path: str, name: str, kind: str) -> Tuple[bytes, str, int]:
        """hrpyc.fetch_attrib(): a geometry attribute as one buffer."""
        return houdini.attrib_buffer(node_path, name, kind)

    def read_file(self, path: str) -> bytes:
        """hrpyc.fetch_file(): a file of the server's machine, in one frame."""
        with open(path, "rb") as handle:
            return handle.read()


def service_for(describe: Callable[[], Info]) -> type:
    """The service class of one server, describing itself with `describe()`."""
    return type("HrpycService", (HrpycService,), {"__slots__": (), "describe": staticmethod(describe)})
