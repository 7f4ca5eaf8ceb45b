"""Server side: refusals told at a bounded rate, so that a flood of connections can fill neither Houdini's
console (100 silent sockets printed 100 lines) nor the panel's event log (one attack posted 87,275 events)."""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List, Optional

Tell = Callable[[str, int], None]  # (what to say, how many refusals it stands for)


class RefusalLog(object):
    """Refusals told at a bounded rate: the first of each WINDOW seconds at once ("127.0.0.1:5555: wrong
    token", 1), the rest summed up when the window ends ("212 more connections (reason x212) from
    127.0.0.1:5556, ...", 212): at most two a window, however many come."""

    WINDOW = 10.0
    ADDRESSES = 5

    def __init__(self, tell: Tell) -> None:
        self._tell = tell
        self._lock = threading.Lock()
        self._window_ends = 0.0
        self._held: Dict[str, int] = {}
        self._addresses: List[str] = []
        self._timer: Optional[threading.Timer] = None

    def add(self, address: str, reason: str) -> None:
        with self._lock:
            now = time.monotonic()
            if now >= self._window_ends:
                self._window_ends = now + self.WINDOW
                held = False
            else:
                held = True
                self._held[reason] = self._held.get(reason, 0) + 1
                if address not in self._addresses and len(self._addresses) < self.ADDRESSES:
                    self._addresses.append(address)
                if self._timer is None:
                    self._timer = threading.Timer(self._window_ends - now, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
        if not held:
            self._tell("{}: {}".format(address, reason), 1)

    def flush(self) -> None:
        """Tell what was held back, if anything."""
        with self._lock:
            held, addresses, self._held, self._addresses = self._held, self._addresses, {}, []
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if held:
            count = sum(held.values())
            self._tell(
                "{} more connections ({}) from {}".format(
                    count,
                    "; ".join("{} x{}".format(reason, n) for reason, n in sorted(held.items())),
                    ", ".join(addresses) + (", ..." if len(addresses) == self.ADDRESSES else ""),
                ),
                count,
            )
