"""Both sides: whether Houdini's main thread is parked inside an hrpyc client call.

A shelf tool that connects to its own Houdini blocks the main thread on the socket (client side);
requests queued for the main thread would then wait for ever (server side), so while it is parked
they run on their connection's thread instead: the main thread does nothing else meanwhile, so they
cannot race it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_count = 0


@contextmanager
def main_thread_parked() -> Iterator[None]:
    """Mark the main thread as waiting, for the block (other threads: nothing to mark)."""
    global _count
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _lock:
        _count += 1
    try:
        yield
    finally:
        with _lock:
            _count -= 1


def main_thread_is_parked() -> bool:
    return _count > 0
