"""Both sides: this user's auto token, in a file only they can read: the server started with token='auto'
uses it, and this user's clients find it there, so token='auto' needs no configuration."""

from __future__ import annotations

import os
import secrets
from typing import Optional

from hrpyc._common import userdir


def auto_token(create: bool = True) -> Optional[str]:
    """This user's own token, created on first use in a file only they can read; local clients of the
    same user find it there, so token='auto' needs no configuration."""
    path = auto_token_path()
    token = (userdir.read_private(path, secret=True) or "").strip()
    if token or not create:
        return token or None
    # Several servers may start at once: the first file made wins, and every one of them reads it.
    userdir.create_private(path, secrets.token_urlsafe(32))
    return (userdir.read_private(path, secret=True) or "").strip() or None


def rotate_auto_token() -> str:
    """A new auto token in place of the old one (written safely: see userdir.write_private). Servers
    keep the token they started with until they restart; local clients read the new one when they
    next connect, clients elsewhere need it given to them."""
    token = secrets.token_urlsafe(32)
    userdir.write_private(auto_token_path(), token)
    return token


def auto_token_path() -> str:
    return os.path.join(userdir.checked_state_dir(), "token")
