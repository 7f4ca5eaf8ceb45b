"""Server side: what a job's code prints goes to that job, and only its own: while any job runs,
`sys.stdout` and `sys.stderr` are routers that hand each write to the job running on the writing thread,
or else to the stream they replaced (Houdini's console), so other threads print as before; so does a
job whose client has gone. A job keeps what its client has not read yet in a Backlog.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

Sink = Callable[[str, str], bool]  # (stream name, text) -> taken; False: write it where it would have gone
Chunk = Tuple[str, str]  # (stream name, text), as a client reads a job's output

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


RUN_PARTS = 1024  # writes a run takes before it is joined into one string and the next run begins
RUN_COST = 200  # what a run costs beyond its characters (its list and string objects), counted against the cap
DROPPED = "\n... {:,} characters dropped ...\n"  # where output was dropped, on stderr

_Run = List[Any]  # [stream name, parts (strings), characters dropped here (a marker run) or 0]


class Backlog(object):
    """What a job printed that its client has not read yet, as numbered runs: consecutive writes to one
    stream join into one run, so a million one-character writes cost about a megabyte, not a million
    objects. A client reads the runs from a number on (the count it has: those before it are dropped), and
    a run once sent never changes, so a client that asks again after a lost answer gets the same text.

    Beyond `cap` characters unsent, the oldest unsent output goes, down to three quarters of the cap (in
    whole runs, and the head of the newest if it alone is more), and a marker run says how many
    characters went. Sent runs wait only for the next poll, so a job holds at most about twice `cap`.

    Its owner locks it. `write` runs on the job's thread, where a cancel may raise at any bytecode: each
    of its changes is one C-level step, ordered so that an interrupted write loses at most its own text
    (or shows a marker that counts text still there), and never leaves runs broken or out of order.
    """

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._runs: List[_Run] = []  # run number self._first + index
        self._first = 0  # the number of the oldest run held: the client has every run before it
        self._sent = 0  # runs numbered below this were sent as they are
        self._open: Optional[_Run] = None  # the newest run, unsent, that writes to its stream extend
        self._unsent = 0  # characters (and RUN_COST a run) not sent yet

    def write(self, stream: str, text: str) -> None:
        run = self._open
        if run is not None and run[0] == stream and len(run[1]) < RUN_PARTS:
            run[1].append(text)
        else:
            self._close()
            run = [stream, [text], 0]
            self._runs.append(run)
            self._open = run
            self._unsent += RUN_COST
        self._unsent += len(text)
        if self._unsent > self._cap:
            self._drop()

    def has_news(self, index: int) -> bool:
        """Whether there are runs from number `index` on."""
        return self._first + len(self._runs) > index

    def since(self, index: int) -> Tuple[Chunk, ...]:
        """The runs from number `index` on, now sent; those before it are dropped (the client has them)."""
        read = max(self._first, min(index, self._sent))  # what it has, of what it can have
        del self._runs[: read - self._first]
        self._first = read
        self._close()
        self._sent, self._unsent = self._first + len(self._runs), 0
        return tuple((run[0], _text(run)) for run in self._runs[max(0, index - self._first) :])

    def _close(self) -> None:
        """The open run takes no more writes; its parts become one string."""
        run, self._open = self._open, None
        if run is not None and len(run[1]) > 1:
            run[1][:] = ["".join(run[1])]

    def _drop(self) -> None:
        self._close()
        runs, start = self._runs, self._sent - self._first
        marker = runs[start] if start < len(runs) and runs[start][2] else None
        first = end = start + (marker is not None)
        unsent, dropped, keep, tail = self._unsent, 0, self._cap * 3 // 4, None
        while end < len(runs) - 1 and unsent > keep:  # whole runs, oldest first, but the newest
            size = sum(map(len, runs[end][1]))
            unsent, dropped, end = unsent - size - RUN_COST, dropped + size, end + 1
        if unsent > keep and end < len(runs):  # the newest alone is too much: its head goes
            text = "".join(runs[end][1])
            cut = min(len(text), unsent - keep)
            tail, unsent, dropped = text[cut:], unsent - cut, dropped + cut
        if not dropped:
            return
        if marker is None:
            marker = ["stderr", [], 0]
            runs.insert(first, marker)
            first, end = first + 1, end + 1
        marker[2] += dropped  # counted before it goes: an interrupted drop overcounts, never loses silently
        if tail is not None:
            runs[end][1][:] = [tail]
        del runs[first:end]
        self._unsent = unsent


def _text(run: _Run) -> str:
    if run[2]:
        return DROPPED.format(run[2])
    if len(run[1]) > 1:
        run[1][:] = ["".join(run[1])]
    return "".join(run[1])
