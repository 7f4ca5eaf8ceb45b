"""Both sides: the per-user folder where hrpyc keeps what only this user may read: the auto token, session
records.
"""

from __future__ import annotations

import os

from . import config


def state_dir() -> str:
    """The per-user folder (see config.state_dir), created on demand, owner-only on POSIX."""
    path = config.state_dir()
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def write_private(path: str, text: str) -> None:
    """Write a file only its owner can read (0600 on POSIX; %LOCALAPPDATA% is per-user on Windows)."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)
