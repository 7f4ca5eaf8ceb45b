"""Both sides: plain data between hrpyc.run's two ends, whatever their rpyc: values cross as Python
literals, read back by a parser of plain data alone (hrpyc._wire.literal: never evaluated, unpickled or
imported), except bytes-likes, which cross as buffers (by the bulk lane when large), and numpy arrays,
which cross as a buffer with dtype and shape.

Where both ends are this version or later (the server says CAPABILITY in its handshake, the client
`bytes_at_any_depth` in its request), every bytes-like of MIN_PIECE bytes or more crosses as a buffer at
any depth (in lists, tuples, sets, dicts' keys and values): the literal holds `@N` in its place, N its
index among the call's buffers (repr() writes `@` only inside strings, so it names no user data), and
only a reader given those buffers reads it. Older peers get what they always did: a top-level bytes-like
as a buffer, nested ones as literals, about four characters a byte.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Set, Tuple, Union

from hrpyc._wire.lane import Buffer, Shipped
from hrpyc._wire.literal import MAX_DEPTH, read_literal

__all__ = ["pack_arguments", "pack_result", "unpack_arguments", "unpack_result"]

Slot = Union[int, str]  # a positional argument's index, or a keyword's name
Buffers = Tuple[Tuple[Slot, Shipped], ...]
Answer = Tuple[str, Any]
LITERAL, BYTES, ARRAY, PIECES = "literal", "bytes", "array", "pieces"
CAPABILITY = ("bytes", "any depth")  # the handshake's pair that says a server reads and writes placeholders
MIN_PIECE = 1 << 10  # bytes: a smaller bytes-like costs less as a literal than as a buffer
MAX_PIECES = 1024  # buffers in one call's arguments, or in one result: beyond, the rest travel as literals
PLAIN = "plain data (numbers, strings, bytes, lists, tuples, dicts, sets, None{})"
_BUFFERS = (bytes, bytearray, memoryview)


def pack_arguments(
    args: Tuple[Any, ...], kwargs: Dict[str, Any], ship: Callable[[Buffer], Shipped], at_any_depth: bool = False
) -> Tuple[str, Any]:
    """(literal, buffers): each bytes-like argument travels as a buffer, with None in its place (Buffers);
    `at_any_depth`: each bytes-like of MIN_PIECE bytes or more, wherever it is, with a placeholder, and the
    buffers a tuple of Shipped in the placeholders' order."""
    if at_any_depth:
        lifted: List[Buffer] = []
        literal = repr(_lift((tuple(args), dict(kwargs)), lifted))
        _check_arguments(literal, lifted)
        return literal, tuple(map(ship, lifted))
    positional, keywords = list(args), dict(kwargs)
    slots: List[Tuple[Slot, Any]] = [*enumerate(positional), *keywords.items()]
    buffers = tuple((slot, ship(value)) for slot, value in slots if isinstance(value, _BUFFERS))
    for slot, _ in buffers:
        _put(positional, keywords, slot, None)
    literal = repr((tuple(positional), keywords))
    _check_arguments(literal, None)
    return literal, buffers


def _check_arguments(literal: str, pieces: Any) -> None:
    try:
        read_literal(literal, pieces)  # fail here rather than on the server
    except ValueError as exc:
        raise ValueError("hrpyc.run arguments must be {} ({})".format(PLAIN.format(""), exc)) from None


def unpack_arguments(
    literal: str, buffers: Any, unship: Callable[[Shipped], bytes], at_any_depth: bool = False
) -> Tuple[List[Any], Dict[str, Any]]:
    if at_any_depth:
        args, kwargs = read_literal(literal, _unship_pieces(buffers, unship))
        return list(args), kwargs
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


class _Placeholder(object):
    """A lifted bytes-like's place in a literal: repr() writes it as `@N`."""

    __slots__ = ("_text",)

    def __init__(self, index: int) -> None:
        self._text = "@{}".format(index)

    def __repr__(self) -> str:
        return self._text


def _lift(value: Any, lifted: List[Buffer]) -> Any:
    """`value` with each bytes-like in it of MIN_PIECE bytes or more (the first MAX_PIECES) put in `lifted`
    and a placeholder in its place, and the others made bytes; `value` itself when it holds none."""
    return _lifted(value, lifted, set()) if _holds_buffers(value, set()) else value


def _holds_buffers(value: Any, around: Set[int]) -> bool:
    """Whether a bytes-like is in `value`, found without building anything: most plain data holds none.
    Only lists, tuples, dicts and sets are entered (what repr() writes for other kinds, the reader
    refuses), each once on a path (`around`: a list that holds itself is left to repr(), which writes it
    `[...]`, and to the reader, which refuses that). Scalars are passed over without a call."""
    kind = type(value)
    if kind not in _CONTAINERS or id(value) in around or len(around) > MAX_DEPTH:
        return isinstance(value, _BUFFERS)
    around.add(id(value))
    found = False
    if kind is dict:
        for key, item in value.items():
            if (type(key) not in _SCALARS and _holds_buffers(key, around)) or (
                type(item) not in _SCALARS and _holds_buffers(item, around)
            ):
                found = True
                break
    else:
        for item in value:
            if type(item) not in _SCALARS and _holds_buffers(item, around):
                found = True
                break
    around.discard(id(value))
    return found


def _lifted(value: Any, lifted: List[Buffer], around: Set[int]) -> Any:
    if isinstance(value, _BUFFERS):
        if len(lifted) < MAX_PIECES and memoryview(value).nbytes >= MIN_PIECE:
            lifted.append(value)
            return _Placeholder(len(lifted) - 1)
        return value if type(value) is bytes else bytes(value)
    kind = type(value)
    if kind not in _CONTAINERS or id(value) in around or len(around) > MAX_DEPTH:
        return value
    around.add(id(value))
    if kind is dict:
        copy = {_lifted(key, lifted, around): _lifted(item, lifted, around) for key, item in value.items()}
    else:
        copy = kind(_lifted(item, lifted, around) for item in value)
    around.discard(id(value))
    return copy


_CONTAINERS = frozenset((list, tuple, dict, set))
_SCALARS = frozenset((str, int, float, bool, type(None), complex))


def _number(number: Any) -> bool:
    return type(number) is int and 0 <= number < 1 << 64


def _unship_pieces(pieces: Any, unship: Callable[[Shipped], bytes]) -> List[bytes]:
    """The bytes of a call's buffers at any depth. Only a tuple of at most MAX_PIECES (bytes, number)
    pairs is read (a proxy posing as one would call back into its peer when read), and only bytes kept."""
    if type(pieces) is not tuple or len(pieces) > MAX_PIECES:
        raise ValueError("buffers that are not a tuple of at most {}".format(MAX_PIECES))
    received = []
    for shipped in pieces:
        if not (type(shipped) is tuple and len(shipped) == 2 and type(shipped[0]) is bytes and _number(shipped[1])):
            raise ValueError("a buffer that is not one")
        data = unship(shipped)
        if type(data) is not bytes:
            raise ValueError("a buffer that is not bytes")
        received.append(data)
    return received


def pack_result(value: Any, ship: Callable[[Buffer], Shipped], at_any_depth: bool = False) -> Answer:
    """(kind, payload): a bytes-like or a numpy array as a buffer, else a literal; `at_any_depth`: with the
    bytes-likes in it as placeholders and their buffers (PIECES), when it holds any."""
    if isinstance(value, _BUFFERS):
        return BYTES, ship(value)
    if hasattr(value, "__array_interface__") and hasattr(value, "dtype") and not value.dtype.hasobject:
        import numpy  # the value is a numpy array, so numpy is here
        from numpy.lib.format import dtype_to_descr

        flat = numpy.ascontiguousarray(value).reshape(-1).view(numpy.uint8).data  # a memoryview: no copy
        return ARRAY, (repr(dtype_to_descr(value.dtype)), tuple(value.shape), ship(flat))
    lifted: List[Buffer] = []
    literal = repr(_lift(value, lifted) if at_any_depth else value)
    try:
        read_literal(literal, lifted)  # what the client will read
    except ValueError as exc:
        raise TypeError(
            "hrpyc.run returns {}, not {} ({})".format(PLAIN.format(", numpy arrays"), type(value).__name__, exc)
        ) from None
    if lifted:
        return PIECES, (literal, tuple(map(ship, lifted)))
    return LITERAL, literal


def unpack_result(answer: Answer, unship: Callable[[Shipped], bytes]) -> Any:
    """The value: bytes for bytes-likes; for a numpy array, a read-only array when numpy is here
    (`.copy()` to change it), else its raw bytes."""
    kind, payload = answer
    if kind == BYTES:
        return unship(payload)
    if kind == PIECES:
        literal, pieces = payload
        return read_literal(literal, _unship_pieces(pieces, unship))
    if kind == ARRAY:
        descr, shape, shipped = payload
        data = unship(shipped)
        try:
            import numpy
        except ImportError:
            return data
        return numpy.frombuffer(data, dtype=numpy.dtype(read_literal(descr))).reshape(shape)
    return read_literal(payload)
