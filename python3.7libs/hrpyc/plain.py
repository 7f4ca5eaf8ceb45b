"""Both sides: plain data between hrpyc.run's two ends, whatever their rpyc: values cross as Python
literals, read back with ast.literal_eval (never unpickled, nothing imported), except bytes-likes, which
cross as buffers (by the bulk lane when large), and numpy arrays, which cross as a buffer with dtype and
shape.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Callable, Dict, List, Tuple, Union

from .lane import Buffer, Shipped

__all__ = ["pack_arguments", "pack_result", "unpack_arguments", "unpack_result"]

Slot = Union[int, str]  # a positional argument's index, or a keyword's name
Buffers = Tuple[Tuple[Slot, Shipped], ...]
Answer = Tuple[str, Any]
LITERAL, BYTES, ARRAY = "literal", "bytes", "array"
PLAIN = "plain data (numbers, strings, bytes, lists, tuples, dicts, sets, None{})"
_BUFFERS = (bytes, bytearray, memoryview)

# ast.literal_eval on a deep or long expression (`[[[...]]]`, `1+1+...+1`) overflows the C stack of
# Python 3.7-3.10 (what Maya 2022-24 and Nuke 13-15 run) and the process dies: a literal from the other
# end is measured first. Nothing hrpyc.run packs comes near these bounds.
MAX_LITERAL = 256 << 20  # characters
MAX_DEPTH = 100  # nested brackets
MAX_OPERATORS = 2  # between two separators: a complex number's sign and its '+', a unary minus
_STRINGS = re.compile(r"""[bBrRuU]{0,2}(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")
_BRACKETS = re.compile(r"[\[\](){}]")
_OPERATOR = re.compile(r"(?<![0-9.][eE])[-+*/%&|^<>@~]")  # not an exponent's sign (1e-05)
_SEPARATORS = re.compile(r"[,:\[\](){}]")


def read_literal(text: Any) -> Any:
    """ast.literal_eval within size and depth bounds; ValueError (one line) beyond them."""
    if not isinstance(text, str):
        raise ValueError("plain data comes as text, not {}".format(type(text).__name__))
    if len(text) > MAX_LITERAL:
        raise ValueError("plain data of {} MB, beyond {} MB".format(len(text) >> 20, MAX_LITERAL >> 20))
    bare = _STRINGS.sub("''", text)
    depth = 0
    for bracket in _BRACKETS.findall(bare):
        depth += 1 if bracket in "([{" else -1
        if depth > MAX_DEPTH:
            raise ValueError("plain data nested more than {} deep".format(MAX_DEPTH))
    if any(len(_OPERATOR.findall(piece)) > MAX_OPERATORS for piece in _SEPARATORS.split(bare)):
        raise ValueError("an expression where plain data should be")
    return ast.literal_eval(text)


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
    args, kwargs = read_literal(literal)
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
        return numpy.frombuffer(data, dtype=numpy.dtype(read_literal(descr))).reshape(shape)
    return read_literal(payload)
