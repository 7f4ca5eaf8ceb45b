"""Client side: bulk transfers in one round trip each, the same for every rpyc version: geometry attributes
and files as raw buffers, by the bulk lane (see hrpyc._wire.lane) when they are large. (Code run on the server,
hrpyc.run, is in hrpyc._caller.job.)
"""

from __future__ import annotations

from typing import Any, Union

from hrpyc._wire import lane
from hrpyc.errors import HrpycError

__all__ = ["fetch_attrib", "fetch_file", "push_file", "service_of"]


def fetch_attrib(connection: Any, node_path: str, name: str, kind: str = "point") -> Any:
    """A geometry attribute of `node_path` (kind: point, prim or vertex) in one buffer: a read-only
    numpy array shaped (elements, size) when numpy is installed here, else its raw bytes (float32 or
    int32 values, as `array.array("f" or "i", data)` reads them)."""
    shipped, typecode, size = service_of(connection).attrib_buffer(node_path, name, kind)
    buffer = lane.receive(connection, shipped)
    try:
        import numpy
    except ImportError:
        return buffer
    dtype = numpy.float32 if typecode == "f" else numpy.int32
    return numpy.frombuffer(buffer, dtype=dtype).reshape(-1, size)


def fetch_file(connection: Any, path: str) -> bytes:
    """The bytes of a file on the server's machine."""
    return lane.receive(connection, service_of(connection).read_file(path))


def push_file(connection: Any, path: str, data: Union[bytes, bytearray, memoryview]) -> int:
    """Write `data` to the file `path` on the server's machine (replacing it, and making its folder if
    missing); the number of bytes."""
    service = service_of(connection)
    return int(service.write_file(path, lane.send(connection, data)))


def service_of(connection: Any) -> Any:
    """The hrpyc service of `connection`'s server; HrpycError for a stock rpyc server."""
    if not getattr(connection, "server_info", None):
        raise HrpycError(
            "the fast path needs an hrpyc server; this one is a stock rpyc server (use connection.modules)"
        )
    return connection.root
