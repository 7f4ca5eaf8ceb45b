"""Where a request runs. A dispatcher takes each request (a no-argument callable that unboxes,
runs and replies) and decides the thread it runs on."""

from __future__ import annotations

import threading

from . import houdini


class ThreadDispatcher(object):
    """hython and plain Python: a request runs on its connection's thread, in Houdini's main context.

    Only the outermost request of a thread syncs: a nested one (a callback into the client that calls
    back into us) runs inside its parent's context.
    """

    name = "thread"

    def __init__(self) -> None:
        self._depth = threading.local()

    def run(self, request) -> None:
        depth = getattr(self._depth, "value", 0)
        self._depth.value = depth + 1
        try:
            if depth:
                request()
            else:
                with houdini.main_context():
                    request()
        finally:
            self._depth.value = depth

    def close(self) -> None:
        """Nothing is queued in this mode."""
