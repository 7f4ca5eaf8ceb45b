"""Server side: what a job's code prints goes to that job, and only its own: while any job runs,
`sys.stdout` and `sys.stderr` are routers that hand each write to the job running on the writing thread,
or else to the stream they replaced (Houdini's console), so other threads print as before; so does a
job whose client has gone.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List, Tuple

Sink = Callable[[str, str], bool]  # (stream name, text) -> taken; False: write it where it would have gone

STREAMS = ("stdout", "stderr")
_lock = threading.Lock()
_sinks: Dict[int, Sink] = {}  # thread ident -> the job's sink; one dict operation per write
_installed: List[_Router] = []  # the routers in place, while any job captures
# Every router ever made, kept for good: print() holds sys.stdout by a borrowed reference while it
# writes (CPython 3.7-3.11), so a router freed while another thread prints through it crashes Python.
_made: Dict[Tuple[str, int], _Router] = {}


class _Router(object):
    """A text stream that sends a capturing thread's writes to its sink, and the rest where they went."""

    def __init__(self, name: str, original: Any) -> None:
        self._name, self._original = name, original

    def write(self, text: str) -> int:
        sink = _sinks.get(threading.get_ident())
        if sink is None or not sink(self._name, str(text)):
            return self._original.write(text)  # type: ignore[no-any-return]
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if threading.get_ident() not in _sinks:
            self._original.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno...: the original stream's
        return getattr(self._original, name)


@contextlib.contextmanager
def captured(sink: Sink) -> Iterator[None]:
    """Send what the calling thread writes to sys.stdout/sys.stderr to `sink`, for the block."""
    ident = threading.get_ident()
    with _lock:
        if not _sinks:
            _install()
        _sinks[ident] = sink
    try:
        yield
    finally:
        with _lock:
            _sinks.pop(ident, None)
            if not _sinks:
                _uninstall()


def _install() -> None:
    for name in STREAMS:
        original = getattr(sys, name)
        router = _made.get((name, id(original)))  # the router holds the original: its id stays its own
        if router is None:
            router = _made[name, id(original)] = _Router(name, original)
        setattr(sys, name, router)
        _installed.append(router)


def _uninstall() -> None:
    """Put the replaced streams back, unless someone replaced our router meanwhile (theirs stays)."""
    for router in _installed:
        if getattr(sys, router._name) is router:
            setattr(sys, router._name, router._original)
    del _installed[:]
