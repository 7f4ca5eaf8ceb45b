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

# ast.literal_eval on a deep or long expression (`[[[...]]]`, `1+1+...+1`, `x[0][0]...`) overflows the C
# stack of Python 3.7-3.10 (what Maya 2022-24 and Nuke 13-15 run) and the process dies: a literal from
# the other end is measured first. With its strings blanked and True/False/None/set() set aside, what
# repr() gives for plain data is digits, signs, brackets, commas and colons; nothing indexes or calls,
# and no more than two signs that are not an exponent's stand between two separators (-1-2j).
MAX_LITERAL = 256 << 20  # characters
MAX_DEPTH = 100  # nested brackets
_STRINGS = re.compile(r"""'[^'\\\n]*(?:\\.[^'\\\n]*)*'|"[^"\\\n]*(?:\\.[^"\\\n]*)*\"""")  # runs, not a char at a time
_PREFIXES = re.compile(r"[bBrRuU]{1,2}(?='')")  # b'...', rb'...': what prefixes a string
_WORDS = re.compile(r"True|False|None|set\(\)")  # a name that ends in one keeps its other letters
_NOT_PLAIN = re.compile(r"[^0-9eEjJ.+\- ,:'\[\](){}]")  # anything else: names, f-strings, other operators
_BRACKETS = re.compile(r"[\[\](){}]")
_OPENS_AFTER_A_VALUE = frozenset("0123456789jJ.])}'")  # x[0], f(): an index or a call, not a literal
_SIGNS = re.compile(r"[-+][^-+,:\[\](){}]*[-+][^-+,:\[\](){}]*[-+]")  # three signs between separators...
_EXPONENT_SIGN = re.compile(r"(?<=[0-9.][eE])[-+]")  # ...some maybe an exponent's (1e-05), not operators


def read_literal(text: Any) -> Any:
    """ast.literal_eval within size and depth bounds; ValueError (one line) beyond them. Each check is
    one pass of a regular expression: a fraction of literal_eval's own time for numbers and text, a few
    times it for bytes (four characters a byte)."""
    if not isinstance(text, str):
        raise ValueError("plain data comes as text, not {}".format(type(text).__name__))
    if len(text) > MAX_LITERAL:
        raise ValueError("plain data of {} MB, beyond {} MB".format(len(text) >> 20, MAX_LITERAL >> 20))
    bare = text
    if "'" in bare or '"' in bare:
        bare = _PREFIXES.sub("", _STRINGS.sub("''", bare))
    if "e" in bare or "s" in bare:  # True, False, None, set()
        bare = _WORDS.sub("0", bare)
    if " " in bare:
        bare = bare.replace(" ", "")
    if _NOT_PLAIN.search(bare):
        raise ValueError("an expression where plain data should be")
    depth = 0
    for bracket in _BRACKETS.finditer(bare):
        at = bracket.start()
        if bare[at] in "([{":
            if bare[at] != "{" and at and bare[at - 1] in _OPENS_AFTER_A_VALUE:
                raise ValueError("an expression where plain data should be")
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError("plain data nested more than {} deep".format(MAX_DEPTH))
        else:
            depth -= 1
    for signs in _SIGNS.finditer(bare):  # rare in plain data: look closer only there
        if _SIGNS.search(_EXPONENT_SIGN.sub("", _piece(bare, signs.start()))):
            raise ValueError("an expression where plain data should be")
    return ast.literal_eval(text)


def _piece(text: str, at: int) -> str:
    """The stretch of `text` around `at` between two separators."""
    start = max(text.rfind(mark, 0, at) for mark in ",:[](){}") + 1
    ends = [end for end in (text.find(mark, at) for mark in ",:[](){}") if end >= 0]
    return text[start : min(ends) if ends else len(text)]


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
