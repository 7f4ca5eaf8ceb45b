"""The per-user folder where hrpyc keeps what only this user may read: the auto token, session records."""

from __future__ import annotations

import os
import sys


def state_dir() -> str:
    """HRPYC_STATE_DIR, else the platform's per-user place (created on demand, owner-only on POSIX)."""
    path = os.environ.get("HRPYC_STATE_DIR", "").strip()
    if not path:
        if sys.platform == "win32":
            base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
        elif sys.platform == "darwin":
            base = os.path.expanduser("~/Library/Application Support")
        else:
            base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
        path = os.path.join(base, "hrpyc")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def write_private(path: str, text: str) -> None:
    """Write a file only its owner can read (0600 on POSIX; %LOCALAPPDATA% is per-user on Windows)."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)
