"""Server side: what the server offers a client: rpyc's classic service (so stock clients work) plus a
handshake and a description of itself that need no `hou` and no main thread.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from rpyc.core.service import SlaveService

from . import houdini, plain
from .clients import Pairs
from .lane import HANDSHAKE_KEY, Buffer, Lanes, Shipped
from .rpyc_server import ServerConnection

# Pairs rather than a dict: rpyc sends a tuple of strings by value, a dict as a proxy.
Info = Tuple[Tuple[str, str], ...]


class HrpycService(SlaveService):
    """rpyc's SlaveService, not classic's ClassicService: the server never asks for the client's root,
    so a connection costs one round trip less and the server never reaches into the client.

    Its `hrpyc_*` methods are answered on the connection's thread (see rpyc_server.Request.light).
    """

    __slots__ = ()
    _protocol = ServerConnection
    lanes: Lanes  # the server's, set by service_for

    def introduce(self, conn: Any, said: Any) -> None:
        raise NotImplementedError  # the server's: keep what a client says of itself

    def clients(self, asking: Any) -> Tuple[Pairs, ...]:
        raise NotImplementedError  # the server's: its clients but the one asking

    def describe(self) -> Info:
        raise NotImplementedError  # each server's own subclass says what it is

    def hrpyc_info(self) -> Info:
        """What this server is: hrpyc, rpyc, Python and Houdini versions, pid, dispatch, busy time."""
        return self.describe()

    def hrpyc_hello(self, timeout: Optional[float], client: Any = ()) -> Info:
        """Our client's handshake: how long it waits for an answer, so the server can say "busy"
        before the client gives up, and who it is (hrpyc.identity's pairs; older hrpyc clients send
        none); answers with hrpyc_info() and the connection's bulk-lane key (hex; empty when this
        server offers no lane - see hrpyc.lane)."""
        if timeout is None or (isinstance(timeout, (int, float)) and timeout > 0):
            self._conn.timeout = timeout
        self.introduce(self._conn, client)
        return self.describe() + ((HANDSHAKE_KEY, self.lanes.open(self._conn).hex()),)

    def hrpyc_clients(self) -> Tuple[Pairs, ...]:
        """The server's other clients, oldest first, as hrpyc.clients.to_pairs (`hrpyc sessions --clients`)."""
        return self.clients(self._conn)

    def run_code(self, source: str, name: str, arguments: str, buffers: plain.Buffers) -> plain.Answer:
        """hrpyc.run(): run a code block, or define a function and call it, in a fresh namespace."""
        args, kwargs = plain.unpack_arguments(arguments, buffers, self._unship)  # first: no parcel left behind
        namespace: Dict[str, Any] = {"__name__": "__hrpyc_run__"}
        exec(compile(source, "<hrpyc.run>", "exec"), namespace)
        value = namespace[name](*args, **kwargs) if name else namespace.get("result")
        return plain.pack_result(value, self._ship)

    def attrib_buffer(self, node_path: str, name: str, kind: str) -> Tuple[Shipped, str, int]:
        """hrpyc.fetch_attrib(): a geometry attribute as one buffer."""
        buffer, typecode, size = houdini.attrib_buffer(node_path, name, kind)
        return self._ship(buffer), typecode, size

    def read_file(self, path: str) -> Shipped:
        """hrpyc.fetch_file(): a file of the server's machine."""
        with open(path, "rb") as handle:
            return self._ship(handle.read())

    def write_file(self, path: str, shipped: Shipped) -> int:
        """hrpyc.push_file(): bytes into a file of the server's machine."""
        data = self._unship(shipped)
        with open(path, "wb") as handle:
            handle.write(data)
        return len(data)

    def _ship(self, data: Buffer) -> Shipped:
        return self.lanes.ship(self._conn, data)

    def _unship(self, shipped: Shipped) -> bytes:
        return self.lanes.unship(self._conn, shipped)


def service_for(
    describe: Callable[[], Info],
    lanes: Lanes,
    introduce: Callable[[Any, Any], None],
    clients: Callable[[Any], Tuple[Pairs, ...]],
) -> type:
    """The service class of one server, describing itself with `describe()`, its buffers on `lanes`,
    keeping what a client says of itself with `introduce(conn, said)`, listing `clients(asking_conn)`."""
    own = {"describe": staticmethod(describe), "introduce": staticmethod(introduce), "clients": staticmethod(clients)}
    return type("HrpycService", (HrpycService,), dict(own, __slots__=(), lanes=lanes))
