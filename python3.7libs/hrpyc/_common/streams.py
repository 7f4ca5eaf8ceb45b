"""Both sides, plain Python: a message's exact length read off a socket or a stream, or EOFError, for the
challenge (sockets) and the bulk lane (buffered readers) alike."""

from __future__ import annotations

from typing import Callable


def read_exactly(receive: Callable[[int], bytes], count: int, broke_off: str = "closed") -> bytes:
    """`count` bytes from `receive` (`sock.recv`, `reader.read`: at most n bytes, b"" at the end), or
    EOFError(`broke_off`) when the other end stops short. One read that brings them all is returned as is."""
    data = b""
    while len(data) < count:
        more = receive(count - len(data))
        if not more:
            raise EOFError(broke_off)
        data += more
    return data
