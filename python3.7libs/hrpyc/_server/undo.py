"""Server side: each client's open undo groups (hrpyc.undo_group): opened and closed on the thread that
runs `hou`, in order with the client's other requests and jobs, and closed if the client goes away.

Houdini has one undo history, and an open group takes in everything done meanwhile: the client's
requests and jobs, and also other clients' requests and the user's own edits in Houdini's UI.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List

from hrpyc._houdini import houdini
from hrpyc._server.job_record import JobRecord


class UndoGroups(object):
    """The groups each connection has open, innermost last; only the thread that runs `hou` changes them."""

    def __init__(self, start: Callable[[JobRecord], None]) -> None:
        self._start = start  # the dispatcher's: run where hou is safe, after what is queued there
        self._lock = threading.Lock()
        self._open: Dict[Any, List[Any]] = {}

    def open(self, conn: Any, label: str) -> None:
        def code() -> None:
            group = houdini.open_undo_group(label)  # None where there is no undo history (hython)
            with self._lock:
                self._open.setdefault(conn, []).append(group)

        self._start(JobRecord(0, "open undo group " + label, conn, code))

    def close(self, conn: Any) -> None:
        self._start(JobRecord(0, "close undo group", conn, lambda: self._close(conn, 1)))

    def client_left(self, conn: Any) -> None:
        """Close every group `conn` left open, innermost first."""
        self._start(JobRecord(0, "close undo groups", None, lambda: self._close(conn, len(self._open.get(conn, ())))))

    def _close(self, conn: Any, count: int) -> None:
        for _ in range(count):
            with self._lock:
                groups = self._open.get(conn)
                group = groups.pop() if groups else None
                if not groups:
                    self._open.pop(conn, None)
            if group is not None:
                houdini.close_undo_group(group)
