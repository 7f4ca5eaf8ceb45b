"""Server side: refusals as log lines at a bounded rate, so that a flood of connections cannot fill
Houdini's console (100 silent sockets printed 100 lines)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Dict, List, Optional


class RefusalLog(object):
    """Refusals as log lines at a bounded rate: the first of each WINDOW seconds at once, the rest
    summed up (count, reasons, a few addresses) when the window ends. A flood of connections would
    otherwise print a line each into Houdini's console. Events still come one per refusal."""

    WINDOW = 10.0
    ADDRESSES = 5

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
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
            self._log.warning("hrpyc: refused %s: %s", address, reason)

    def flush(self) -> None:
        """Log what was held back, if anything."""
        with self._lock:
            held, addresses, self._held, self._addresses = self._held, self._addresses, {}, []
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if held:
            self._log.warning(
                "hrpyc: refused %d more connections (%s) from %s",
                sum(held.values()),
                "; ".join("{} x{}".format(reason, count) for reason, count in sorted(held.items())),
                ", ".join(addresses) + (", ..." if len(addresses) == self.ADDRESSES else ""),
            )
