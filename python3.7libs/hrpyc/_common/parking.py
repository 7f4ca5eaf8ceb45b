"""Both sides: whether Houdini's main thread is parked inside an hrpyc client call.

A shelf tool that connects to its own Houdini blocks the main thread on the socket (client side);
requests queued for the main thread would then wait for ever (server side), so while it is parked
they run on their connection's thread instead: the main thread does nothing else meanwhile, so they
cannot race it.
"""

from __future__ import annotations

import threading
from typing import Any, List

_parked: List[None] = []  # one entry per call the main thread is parked in; append and pop are atomic


class _MainThreadParked(object):
    """Every client call enters this, so it is two list operations, not a lock or a generator."""

    __slots__ = ("_main",)

    def __enter__(self) -> None:
        self._main = threading.current_thread() is threading.main_thread()
        if self._main:
            _parked.append(None)

    def __exit__(self, *exc: Any) -> None:
        if self._main:
            _parked.pop()


def main_thread_parked() -> _MainThreadParked:
    """Mark the main thread as waiting, for the block (other threads: nothing to mark)."""
    return _MainThreadParked()


def main_thread_is_parked() -> bool:
    return bool(_parked)
