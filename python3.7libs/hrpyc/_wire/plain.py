"""Both sides: plain data between hrpyc.run's two ends, whatever their rpyc: values cross as Python
literals, read back by a parser of plain data alone (never evaluated, unpickled or imported), except
bytes-likes, which cross as buffers (by the bulk lane when large), and numpy arrays, which cross as a
buffer with dtype and shape.

Where both ends are this version or later (the server says CAPABILITY in its handshake, the client
`bytes_at_any_depth` in its request), every bytes-like of MIN_PIECE bytes or more crosses as a buffer at
any depth (in lists, tuples, sets, dicts' keys and values): the literal holds `@N` in its place, N its
index among the call's buffers (repr() writes `@` only inside strings, so it names no user data), and
only a reader given those buffers reads it. Older peers get what they always did: a top-level bytes-like
as a buffer, nested ones as literals, about four characters a byte.
"""

from __future__ import annotations

import codecs
import collections
import re
from typing import Any, Callable, Dict, List, Set, Tuple, Union

from hrpyc._wire.lane import Buffer, Shipped

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

# Plain data from the other end is read by this module's parser, token by token in time linear in its size,
# and never by Python's: ast.literal_eval on a deep or long expression (`[[[...]]]`, `1+1+...+1`) overflows
# the C stack of Python 3.7-3.10 (what Maya 2022-24 and Nuke 13-15 run); Python 3.7's parser prints "s_push:
# parser stack overflow" past 93 brackets, 3.12's a SyntaxWarning for an escape like '\d'; its parse tree
# takes nearly 1 kB a number. What is read is what repr() writes for plain data: numbers, strings and bytes
# with the escapes repr() uses, True, False, None, set(), brackets, commas and colons.
MAX_LITERAL = 256 << 20  # characters
MAX_DEPTH = 100  # nested brackets
MAX_DIGITS = 4300  # in a row: what Python 3.11+ reads by default; int() of text is quadratic in its digits
MAX_SHARED_HASHES = 16  # per key of a dict or set, on average: building one is quadratic in keys that share
_FEW_KEYS = 32  # however many of these share their hash, building a dict of them costs little
_DIGITS = "[0-9]{1,%d}" % MAX_DIGITS  # more make two numbers in a row, which is refused
_INT = "(?:0{1,%d}|[1-9][0-9]{0,%d})" % (MAX_DIGITS, MAX_DIGITS - 1)  # 01 is no int, 01.5 and 01j are numbers
_FLOAT = r"(?:(?:{d}\.(?:{d})?|\.{d})(?:[eE][-+]?{d})?|{d}[eE][-+]?{d})".format(d=_DIGITS)
_RAW = r"\\\x00-\x1f\x7f"  # what repr() escapes in a string on every Python (beyond ASCII, it depends)
_STRING = r"{q}[^{q}{raw}]*(?:\\[\\'\"nrtxuU][^{q}{raw}]*)*{q}"  # runs, not a char at a time
_SHORT_BYTES = r"{q}[^{q}{raw}]{{0,64}}(?:\\[\\'\"nrtx][^{q}{raw}]{{0,64}}){{0,64}}{q}"  # longer: _bytes_at
_A_STR, _SOME_BYTES, _AN_INT, _A_FLOAT, _A_COMPLEX, _A_WORD, _A_PLACEHOLDER, _LONG_BYTES = range(1, 9)  # _VALUE's
_VALUE = re.compile(  # what is not a bracket: brackets are read without a regular expression (they cost more)
    r"(?:"
    r"({strings})"
    r"|b({short_bytes})"
    r"|([-+]?{int})(?![.eEjJ0-9+-])"
    r"|([-+]?{float})(?![.eEjJ0-9+-])"
    r"|([-+]?(?:(?:{float}|{int})[-+])?(?:{float}|{digits})[jJ])"  # 1j, -1-2j: repr() writes (1+2j)
    r"|(True|False|None|set\(\))"
    r"|@(0|[1-9][0-9]{{0,9}})"  # a bytes-like's placeholder: see the module's docstring
    r") *[,:]?"  # what may follow
    r"|(b['\"])".format(
        strings="|".join(_STRING.format(q=q, raw=_RAW) for q in "'\""),
        short_bytes="|".join(_SHORT_BYTES.format(q=q, raw=_RAW) for q in "'\""),
        int=_INT,
        float=_FLOAT,
        digits=_DIGITS,
    )
)
_AFTER = re.compile(" *[,:]?")
_SPACES = re.compile(" *")
_NUMBER_LIKE = re.compile("[-+0-9.eEjJ]*")
_LONG_RUN = re.compile("(?<![0-9])[0-9]{%d}" % (MAX_DIGITS + 1))  # tried once a run, at its start
_ESCAPES = {q: re.compile(r"[^{q}\\]*(?:\\.[^{q}\\]*)*".format(q=q), re.DOTALL) for q in "'\""}  # to a quote
_BAD_BYTES_ESCAPE = re.compile(r"\\[^'\"nrtx]")  # once escaped backslashes are gone
_UNICODE_ESCAPE = codecs.getdecoder("unicode_escape")  # bytes.decode() looks the codec up each time
_WORDS = {"True": True, "False": False, "None": None}
_OPENS = {"]": "[", ")": "(", "}": "{"}


def read_literal(text: Any, pieces: Any = None) -> Any:
    """The plain data `text` writes, as ast.literal_eval reads it, in time linear in its size; ValueError (one
    line) for anything else. About twice literal_eval's speed on ordinary data, without its parse tree.
    With `pieces` (a list), a placeholder `@N` reads as pieces[N]."""
    if not isinstance(text, str):
        raise ValueError("plain data comes as text, not {}".format(type(text).__name__))
    if len(text) > MAX_LITERAL:
        raise ValueError("plain data of {} MB, beyond {} MB".format(len(text) >> 20, MAX_LITERAL >> 20))
    match, end, pos = _VALUE.match, len(text), 0
    stack: List[Tuple[List[Any], str, int]] = []  # the brackets around the one being read
    items: List[Any] = []  # what was read in it: the top level holds one value
    kind = ""  # its opening bracket
    colons = 0  # in a dict: the keys given a value
    ready = 1  # what may come: 1 a value or a closing bracket, 2 a value (after a colon), 0 neither
    while pos < end:
        first = text[pos]
        if first == " ":  # after a comma, as repr() writes
            pos += 1
            if pos == end or text[pos] == " ":
                pos = _end(_SPACES, text, pos)
                if pos == end:
                    break
            first = text[pos]
        if first in "[({":
            if not ready or len(stack) == MAX_DEPTH:
                raise ValueError(_refusal(text, pos, len(stack) == MAX_DEPTH))
            stack.append((items, kind, colons))
            items, kind, colons, ready, pos = [], first, 0, 1, pos + 1
            continue
        if first in "])}":
            if ready == 2 or kind != _OPENS[first] or (colons and len(items) != 2 * colons):
                raise ValueError(_refusal(text, pos))
            if kind == "[":
                value: Any = items
            elif kind == "(":
                value = items[0] if len(items) == 1 and not ready else tuple(items)  # (1), (1,)
            elif not items:
                value = {}
            else:
                try:
                    value = dict(zip(_keys(items[::2]), items[1::2])) if colons else set(_keys(items))
                except TypeError:  # a list as a key
                    raise ValueError("a key that is a list, dict or set, before character {}".format(pos)) from None
            items, kind, colons = stack.pop()
            pos += 1
            if text.startswith(" ", pos):  # repr() writes none before a comma
                pos = _end(_SPACES, text, pos)
            after = text[pos : pos + 1]
            if after == "," or after == ":":
                pos += 1
        elif not ready:
            raise ValueError(_refusal(text, pos))
        else:
            token = match(text, pos)
            if token is None:
                raise ValueError(_refusal(text, pos))
            group, pos = token.lastindex, token.end()
            if group == _AN_INT:
                value = int(token.group(_AN_INT))
            elif group == _A_STR:
                value = token.group(_A_STR)[1:-1]
                if "\\" in value:
                    value = _unescape(value.encode("latin-1", "backslashreplace"), token.start())
            elif group == _A_FLOAT:
                value = float(token.group(_A_FLOAT))
            elif group == _A_COMPLEX:
                value = complex(token.group(_A_COMPLEX))
            elif group == _SOME_BYTES:
                value = _bytes(token.group(_SOME_BYTES)[1:-1], token.start())
            elif group == _A_WORD:
                word = token.group(_A_WORD)
                value = set() if word == "set()" else _WORDS[word]
            elif group == _A_PLACEHOLDER:
                value = _piece(pieces, int(token.group(_A_PLACEHOLDER)), token.start())
            else:
                value, pos = _bytes_at(text, pos)
            after = text[pos - 1]
        items.append(value)
        if after == ",":
            if not kind or (colons and len(items) != 2 * colons):
                raise ValueError(_refusal(text, pos - 1))
            ready = 1
        elif after == ":":
            if kind != "{" or len(items) != 2 * colons + 1:
                raise ValueError(_refusal(text, pos - 1))
            colons += 1
            ready = 2
        else:
            ready = 0
    if stack or len(items) != 1 or ready:
        raise ValueError("plain data that ends too soon")
    return items[0]


def _piece(pieces: Any, index: int, at: int) -> Any:
    """What the placeholder `@index` stands for; only a reader given the call's buffers reads one."""
    if pieces is None:
        raise ValueError("an expression where plain data should be, at character {}".format(at))
    if index >= len(pieces):
        raise ValueError("a placeholder for none of the {} buffers, at character {}".format(len(pieces), at))
    return pieces[index]


def _bytes_at(text: str, start: int) -> Tuple[bytes, int]:
    """The bytes whose body starts at `start`, and where what follows them ends: their end is the first
    quote after an even number of backslashes, or where many quotes are escaped, the end of a regular
    expression's escapes."""
    quote = text[start - 1]
    close, escaped = text.find(quote, start), 0
    while close >= 0:
        before = close
        while text[before - 1] == "\\":
            before -= 1
        if (close - before) % 2 == 0:
            break
        escaped += 1
        if escaped > 8 and escaped * 64 > close - start:  # dense: step over the escapes in C instead
            close = _end(_ESCAPES[quote], text, close + 1)
            close = close if text.startswith(quote, close) else -1
            break
        close = text.find(quote, close + 1)
    if close < 0:
        raise ValueError(_refusal(text, start - 2))
    body = text[start:close]
    if not body.isprintable() or ("\\" in body and _BAD_BYTES_ESCAPE.search(body.replace("\\\\", ""))):
        raise ValueError(_refusal(text, start - 2))
    return _bytes(body, start), _end(_AFTER, text, close + 1)


def _bytes(body: str, at: int) -> bytes:
    if not body.isascii():
        raise ValueError("bytes with a character that is not ASCII, at character {}".format(at))
    if "\\" in body:
        return _unescape(body.encode("ascii"), at).encode("latin-1")
    return body.encode("ascii")


def _unescape(literal: bytes, at: int) -> str:
    """A string's body with its escapes read: characters beyond Latin-1 come as \\u escapes themselves."""
    try:
        return _UNICODE_ESCAPE(literal)[0]
    except UnicodeDecodeError:  # \x1, \U00110000
        raise ValueError("a string escape that repr() does not write, at character {}".format(at)) from None


def _keys(keys: List[Any]) -> List[Any]:
    """`keys`, unless a dict or set of them would take time squared to build: each key that shares its hash
    is compared with the others that do. Small ints share none, tuples of them some (Python 3.7 more)."""
    if len(keys) > _FEW_KEYS and len(set(map(hash, keys))) < len(keys):
        shared = sum(count * count for count in collections.Counter(map(hash, keys)).values())
        if shared > MAX_SHARED_HASHES * len(keys):
            raise ValueError("a dict or set of {} keys that share their hashes".format(len(keys)))
    return keys


def _end(pattern: re.Pattern[str], text: str, at: int) -> int:
    """Where `pattern`, which matches the empty string too, ends when matched at `at`."""
    found = pattern.match(text, at)
    return found.end() if found else at


def _refusal(text: str, at: int, deep: bool = False) -> str:
    """Why the token at `at` is refused, in one line."""
    if deep:
        return "plain data nested more than {} deep".format(MAX_DEPTH)
    at = _end(_SPACES, text, at)
    if _LONG_RUN.search(text, at, _end(_NUMBER_LIKE, text, at)):
        return "a number of more than {} digits".format(MAX_DIGITS)
    if text[at : at + 2].lstrip("b")[:1] in ("'", '"'):
        return "a string that does not end, or holds what repr() escapes, at character {}".format(at)
    return "an expression where plain data should be, at character {}".format(at)


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
