"""Both sides: plain data between hrpyc.run's two ends, whatever their rpyc: values cross as Python
literals, read back with ast.literal_eval (never unpickled, nothing imported), except bytes-likes, which
cross as buffers (by the bulk lane when large), and numpy arrays, which cross as a buffer with dtype and
shape.
"""

from __future__ import annotations

import ast
from typing import Any, Callable, Dict, List, Tuple, Union

from .lane import Buffer, Shipped

__all__ = ["pack_arguments", "pack_result", "unpack_arguments", "unpack_result"]

Slot = Union[int, str]  # a positional argument's index, or a keyword's name
Buffers = Tuple[Tuple[Slot, Shipped], ...]
Answer = Tuple[str, Any]
LITERAL, BYTES, ARRAY = "literal", "bytes", "array"
PLAIN = "plain data (numbers, strings, bytes, lists, tuples, dicts, sets, None{})"
_BUFFERS = (bytes, bytearray, memoryview)


def pack_arguments(
    args: Tuple[Any, ...], kwargs: Dict[str, Any], ship: Callable[[Buffer], Shipped]
) -> Tuple[str, Buffers]:
    """(literal, buffers): each bytes-like argument travels as a buffer, with None in its place."""
    positional, keywords = list(args), dict(kwargs)
    slots: List[Tuple[Slot, Any]] = [*enumerate(positional), *keywords.items()]
    buffers = tuple((slot, ship(value)) for slot, value in slots if isinstance(value, _BUFFERS))
    for slot, _ in buffers:
        _put(positional, keywords, slot, None)
    literal = repr((tuple(positional), keywords))
    try:
        ast.literal_eval(literal)  # fail here rather than on the server
    except (ValueError, SyntaxError):
        raise ValueError("hrpyc.run arguments must be " + PLAIN.format("")) from None
    return literal, buffers


def unpack_arguments(
    literal: str, buffers: Buffers, unship: Callable[[Shipped], bytes]
) -> Tuple[List[Any], Dict[str, Any]]:
    args, kwargs = ast.literal_eval(literal)
    positional = list(args)
    for slot, shipped in buffers:
        _put(positional, kwargs, slot, unship(shipped))
    return positional, kwargs


def _put(positional: List[Any], keywords: Dict[str, Any], slot: Slot, value: Any) -> None:
    if isinstance(slot, int):
        positional[slot] = value
    else:
        keywords[slot] = value


def pack_result(value: Any, ship: Callable[[Buffer], Shipped]) -> Answer:
    if isinstance(value, _BUFFERS):
        return BYTES, ship(value)
    if hasattr(value, "__array_interface__") and hasattr(value, "dtype") and not value.dtype.hasobject:
        import numpy  # the value is a numpy array, so numpy is here
        from numpy.lib.format import dtype_to_descr

        flat = numpy.ascontiguousarray(value).reshape(-1).view(numpy.uint8).data  # a memoryview: no copy
        return ARRAY, (repr(dtype_to_descr(value.dtype)), tuple(value.shape), ship(flat))
    literal = repr(value)
    try:
        ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        raise TypeError(
            "hrpyc.run returns {}, not {}".format(PLAIN.format(", numpy arrays"), type(value).__name__)
        ) from None
    return LITERAL, literal


def unpack_result(answer: Answer, unship: Callable[[Shipped], bytes]) -> Any:
    """The value: bytes for bytes-likes; for a numpy array, a read-only array when numpy is here
    (`.copy()` to change it), else its raw bytes."""
    kind, payload = answer
    if kind == BYTES:
        return unship(payload)
    if kind == ARRAY:
        descr, shape, shipped = payload
        data = unship(shipped)
        try:
            import numpy
        except ImportError:
            return data
        return numpy.frombuffer(data, dtype=numpy.dtype(ast.literal_eval(descr))).reshape(shape)
    return ast.literal_eval(payload)
