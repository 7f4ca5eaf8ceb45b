"""Bulk jobs in one round trip each, the same for every rpyc version (rpyc's teleport is not):
run code on the server and get plain data back; pull geometry attributes and files as buffers."""

from __future__ import annotations

import array
import ast
import inspect
import textwrap
from typing import Any, Callable, Union

from .errors import HrpycError

__all__ = ["fetch_attrib", "fetch_file", "run"]


def run(connection: Any, code: Union[str, Callable[..., Any]], *args: Any, **kwargs: Any) -> Any:
    """Run `code` on the server in one round trip and return plain data (numbers, strings, bytes, lists,
    tuples, dicts, sets, None).

    `code` is a function (sent as source, so it must be self-contained: imports inside it) called with
    `args` and `kwargs`, which must be plain data too; or a code block whose variable `result` is returned.
    """
    if callable(code):
        source, name = textwrap.dedent(inspect.getsource(code)), code.__name__
    else:
        source, name = code, ""
    arguments = repr((args, kwargs))
    try:
        ast.literal_eval(arguments)  # plain data only: fail here rather than on the server
    except (ValueError, SyntaxError):
        raise ValueError("hrpyc.run arguments must be plain data (numbers, strings, bytes, lists, ...)") from None
    return ast.literal_eval(_service(connection).run_code(source, name, arguments))


def fetch_attrib(connection: Any, node_path: str, name: str, kind: str = "point") -> Any:
    """A geometry attribute of `node_path` (kind: point, prim or vertex) in one buffer: a numpy array
    shaped (elements, size) when numpy is installed here, else a flat array.array."""
    buffer, typecode, size = _service(connection).attrib_buffer(node_path, name, kind)
    try:
        import numpy
    except ImportError:
        values = array.array(typecode)
        values.frombytes(bytes(buffer))
        return values
    dtype = numpy.float32 if typecode == "f" else numpy.int32
    return numpy.frombuffer(bytes(buffer), dtype=dtype).reshape(-1, size)


def fetch_file(connection: Any, path: str) -> bytes:
    """The bytes of a file on the server's machine, in one frame."""
    return bytes(_service(connection).read_file(path))


def _service(connection: Any) -> Any:
    if not getattr(connection, "server_info", None):
        raise HrpycError(
            "the fast path needs an hrpyc server; this one is a stock rpyc server (use connection.modules)"
        )
    return connection.root
