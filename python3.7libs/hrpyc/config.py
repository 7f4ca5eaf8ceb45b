"""Every HRPYC_* environment variable is read here, when it is needed, never at import."""

from __future__ import annotations

import math
import os
from typing import Optional, Union

from .errors import ConfigError

DEFAULT_TIMEOUT = 30.0  # rpyc's own default, which users of the stock setup know
FOREVER_WORDS = ("0", "inf", "none", "forever")

Seconds = Union[int, float]


def request_timeout(timeout: Optional[Seconds] = None) -> Optional[float]:
    """Seconds a request may take, None for no limit: `timeout` if given, else HRPYC_TIMEOUT, else 30.

    0 and math.inf wait forever, as HRPYC_TIMEOUT=0 does; rpyc spells that None.
    """
    if timeout is None:
        text = os.environ.get("HRPYC_TIMEOUT", "").strip()
        if not text:
            return DEFAULT_TIMEOUT
        if text.lower() in FOREVER_WORDS:
            return None
        try:
            timeout = float(text)
        except ValueError:
            raise ConfigError("HRPYC_TIMEOUT", text, "a number of seconds such as 60, or 0 to wait forever") from None
        if math.isnan(timeout) or timeout < 0:
            raise ConfigError("HRPYC_TIMEOUT", text, "a number of seconds such as 60, or 0 to wait forever")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout) or timeout < 0:
        raise ValueError("timeout={!r}: give seconds (> 0), 0 or math.inf to wait forever, or None".format(timeout))
    if timeout == 0 or math.isinf(timeout):
        return None
    return float(timeout)


def dispatch_mode(mode: Optional[str] = None) -> str:
    """Where requests run: `mode` if given, else HRPYC_DISPATCH, else 'auto'."""
    from .dispatch import MODES

    if mode is None:
        text = os.environ.get("HRPYC_DISPATCH", "").strip().lower()
        if not text:
            return "auto"
        if text not in MODES:
            raise ConfigError("HRPYC_DISPATCH", text, " or ".join(MODES))
        return text
    if mode not in MODES:
        raise ValueError("dispatch={!r}: use one of {}".format(mode, ", ".join(MODES)))
    return mode
