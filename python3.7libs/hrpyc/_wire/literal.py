"""Both sides: the reader of plain data as hrpyc.run's two ends send it (hrpyc._wire.plain): the Python
literal repr() writes, read token by token in time linear in its size, never evaluated.

Python's own parser is not used: ast.literal_eval on a deep or long expression (`[[[...]]]`, `1+1+...+1`)
overflows the C stack of Python 3.7-3.10 (what Maya 2022-24 and Nuke 13-15 run); Python 3.7's parser prints
"s_push: parser stack overflow" past 93 brackets, 3.12's a SyntaxWarning for an escape like '\\d'; its parse
tree takes nearly 1 kB a number. What is read is what repr() writes for plain data: numbers, strings and
bytes with the escapes repr() uses, True, False, None, set(), brackets, commas and colons - and, given the
call's buffers, the placeholder `@N` of one of them (see hrpyc._wire.plain).
"""

from __future__ import annotations

import codecs
import collections
import re
from typing import Any, List, Tuple

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
    r"|@(0|[1-9][0-9]{{0,9}})"  # a bytes-like's placeholder: see hrpyc._wire.plain
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
            value: Any = items if kind == "[" else _closed(items, kind, colons, ready, pos)
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


def _closed(items: List[Any], kind: str, colons: int, ready: int, at: int) -> Any:
    """What the brackets `kind` opened hold, closed at `at`: a tuple (`(1)` is 1, `(1,)` a tuple), a dict
    (`colons` of its keys given a value) or a set. A list is `items` itself."""
    if kind == "(":
        return items[0] if len(items) == 1 and not ready else tuple(items)
    if not items:
        return {}
    try:
        return dict(zip(_keys(items[::2]), items[1::2])) if colons else set(_keys(items))
    except TypeError:  # a list as a key
        raise ValueError("a key that is a list, dict or set, before character {}".format(at)) from None


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
