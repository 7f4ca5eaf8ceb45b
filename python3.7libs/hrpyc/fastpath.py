"""Client side: bulk jobs in one round trip each, the same for every rpyc version (rpyc's teleport is not):
run code on the server and get plain data back; move geometry attributes and files as raw buffers, by
the bulk lane (see hrpyc.lane) when they are large.
"""

from __future__ import annotations

import functools
import inspect
import textwrap
from typing import Any, Callable, Union

from . import lane, plain
from .errors import HrpycError, ProtocolError

__all__ = ["fetch_attrib", "fetch_file", "push_file", "run"]


def run(connection: Any, code: Union[str, Callable[..., Any]], *args: Any, **kwargs: Any) -> Any:
    """Run `code` on the server in one round trip and return plain data (numbers, strings, bytes, lists,
    tuples, dicts, sets, None), or a numpy array (read-only; bytes when this Python has no numpy).

    `code` is a function (sent as source, so it must be self-contained: imports inside it) called with
    `args` and `kwargs`, which must be plain data too; or a code block whose variable `result` is returned.
    Bytes-like arguments and results travel as raw buffers, by the bulk lane when large.
    """
    if callable(code):
        source, name = textwrap.dedent(inspect.getsource(code)), code.__name__
    else:
        source, name = code, ""
    service = _service(connection)
    literal, buffers = plain.pack_arguments(args, kwargs, functools.partial(lane.send, connection))
    answer = service.run_code(source, name, literal, buffers)
    try:
        return plain.unpack_result(answer, functools.partial(lane.receive, connection))
    except (ValueError, SyntaxError, TypeError) as exc:  # never a crash, whatever the server sends back
        raise ProtocolError(
            getattr(connection, "address", "the server"), "its answer is not plain data: {}".format(exc)
        ) from None


def fetch_attrib(connection: Any, node_path: str, name: str, kind: str = "point") -> Any:
    """A geometry attribute of `node_path` (kind: point, prim or vertex) in one buffer: a read-only
    numpy array shaped (elements, size) when numpy is installed here, else its raw bytes (float32 or
    int32 values, as `array.array("f" or "i", data)` reads them)."""
    shipped, typecode, size = _service(connection).attrib_buffer(node_path, name, kind)
    buffer = lane.receive(connection, shipped)
    try:
        import numpy
    except ImportError:
        return buffer
    dtype = numpy.float32 if typecode == "f" else numpy.int32
    return numpy.frombuffer(buffer, dtype=dtype).reshape(-1, size)


def fetch_file(connection: Any, path: str) -> bytes:
    """The bytes of a file on the server's machine."""
    return lane.receive(connection, _service(connection).read_file(path))


def push_file(connection: Any, path: str, data: Union[bytes, bytearray, memoryview]) -> int:
    """Write `data` to the file `path` on the server's machine (replacing it); the number of bytes."""
    service = _service(connection)
    return int(service.write_file(path, lane.send(connection, data)))


def _service(connection: Any) -> Any:
    if not getattr(connection, "server_info", None):
        raise HrpycError(
            "the fast path needs an hrpyc server; this one is a stock rpyc server (use connection.modules)"
        )
    return connection.root
