"""Both sides: what a peer said - a server's answers and tracebacks, a registry's entries, a client's
identity, a session record's fields - as text fit for a terminal, a log or the panel.

A rogue peer can send escape sequences that clear a terminal, retitle it or fake a line, bidi overrides
that reorder what is read, megabytes where a version was asked, or a proxy that calls back when touched.
`printable` shows anything but a string as `?` (looked at with `type`, so a proxy is never called),
escapes every unprintable character as Python writes it (`\\x1b`, `\\r`, `\\u202e`: C0 and C1 controls,
DEL, bidi controls, line separators, lone surrogates) and cuts what is longer than its bound, ending
it with `...`. Escaped text is printable: applied twice, it changes nothing. A backslash is left as
it is (a Windows path stays readable), so a peer's literal `\\x1b` reads like an escaped one.
"""

from __future__ import annotations

from typing import Any, Dict

FIELD = 200  # characters of a field (a version, a name, a scene) that are shown
CUT = "..."  # ends what was cut
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
MAX_PAIRS = 64  # pairs of a server's handshake answer that are read; the rest is not looked at


def printable(value: Any, limit: int = FIELD, lines: bool = False) -> str:
    """`value` shown safely: `?` unless it is a str, unprintable characters escaped, at most `limit`
    characters (the last ones `...` when cut). `lines`: keep line breaks (a traceback)."""
    if type(value) is not str:
        return "?"
    text = value[: limit + 1]
    if not (text.replace("\n", "") if lines else text).isprintable():
        text = "".join(c if c.isprintable() or (lines and c == "\n") else _escaped(c) for c in text)
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def printable_error(exc: BaseException, limit: int = FIELD) -> str:
    """'ValueError: what it says' of an error a peer caused or sent, shown safely (a remote error's type
    name and text are the server's; its text may not even be had)."""
    try:
        text = "{}: {}".format(type(exc).__name__, exc)
    except Exception:  # rpyc's remote error with a traceback that is not text
        text = "{}: ?".format(type(exc).__name__)
    return printable(text, limit)


def printable_pairs(answer: Any) -> Dict[str, str]:
    """A server's tuple of (name, value) string pairs (its handshake answer) as a dict, each name and
    value shown safely: a value that is not a string is `?`, an item that is not a pair is skipped, the
    first of a name wins. ValueError for an answer that is not a tuple, or holds no pair at all."""
    found: Dict[str, str] = {}
    for pair in answer[:MAX_PAIRS] if type(answer) is tuple else ():
        if type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str:
            found.setdefault(printable(pair[0], 64), printable(pair[1]))
    if type(answer) is not tuple or (answer and not found):
        raise ValueError("its handshake answer is not a tuple of (name, value) pairs")
    return found


def _escaped(char: str) -> str:
    """`char` as Python escapes it in a string's repr."""
    code = ord(char)
    form = "\\x{:02x}" if code < 0x100 else "\\u{:04x}" if code < 0x10000 else "\\U{:08x}"
    return _NAMED.get(char) or form.format(code)
