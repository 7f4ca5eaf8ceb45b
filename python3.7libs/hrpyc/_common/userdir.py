"""Both sides: the per-user folder where hrpyc keeps what only this user may read (the auto token,
session records, the panel's settings) - checked, not trusted.

Another user who could write there could plant a token, or a record that makes our client offer its
token to their port, or a symbolic link that makes us write the token into their file. So the folder
and every file read from it must be this user's and closed to everyone else, no symbolic link is
followed, and files are written to a new name exclusively and then moved into place. "Closed" means
no one else may write (the folder, records, settings) - and, for the token, read: POSIX mode bits,
Windows access lists (see _oslayer.private).
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from typing import Callable, Optional, TypeVar

from hrpyc._common import config
from hrpyc._oslayer import private
from hrpyc.errors import UnsafeFileError

T = TypeVar("T")


def checked_state_dir() -> str:
    """The per-user folder where config.state_dir says, created on demand and checked."""
    return private_folder(config.state_dir())


def private_folder(path: str) -> str:
    """`path`, created owner-only if missing; UnsafeFileError if it is a link, another user's, or others
    may write to it."""
    try:
        private.make_folder(path)
    except OSError as exc:
        raise UnsafeFileError(path, "cannot be created ({})".format(exc.strerror), "set HRPYC_STATE_DIR") from None
    try:
        problem = private.folder_problem(path)
    except OSError as exc:
        raise UnsafeFileError(
            path, "cannot be checked ({})".format(exc.strerror or exc), "set HRPYC_STATE_DIR"
        ) from None
    if problem is not None:
        raise UnsafeFileError(path, *problem)
    return path


def read_private(path: str, secret: bool = False) -> Optional[str]:
    """The text of a file in the folder, None when there is none; UnsafeFileError when it is not a
    plain file of this user's that only they may change (and, if `secret`, read)."""
    try:
        fd = _once_free(lambda: os.open(path, os.O_RDONLY | private.NOFOLLOW | getattr(os, "O_NONBLOCK", 0)))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(path, "is a symbolic link", "remove it") from None
        raise UnsafeFileError(path, "cannot be read ({})".format(exc.strerror), "remove it") from None
    try:
        problem = private.file_problem(fd, path, secret)
    except OSError as exc:
        os.close(fd)
        raise UnsafeFileError(path, "cannot be checked ({})".format(exc.strerror or exc), "remove it") from None
    except BaseException:
        os.close(fd)
        raise
    if problem is not None:
        os.close(fd)
        raise UnsafeFileError(path, *problem)
    # UTF-8 whatever the locale (Windows' is cp1252), past a BOM (Notepad's); a stranger's bytes read as U+FFFD
    with os.fdopen(fd, "r", encoding="utf-8-sig", errors="replace") as handle:
        return handle.read()


def write_private(path: str, text: str) -> None:
    """Write a file only its owner can read: to a new, unguessable name first (never following a
    planted link), then moved over `path` in one step."""
    _publish(path, text, os.replace)


def create_private(path: str, text: str) -> bool:
    """write_private, unless `path` exists already: False then, and it is left as it is. Whole or not at
    all, and exclusive: of several processes creating it at once, exactly one succeeds."""
    try:
        _publish(path, text, os.link)  # a hard link fails if the name exists; the rename would replace it
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: the last writer wins, as with write_private
        if os.path.lexists(path):
            return False
        write_private(path, text)
    return True


def _publish(path: str, text: str, place: Callable[[str, str], None]) -> None:
    """Write `text` to a new, unguessable name (never following a planted link), `place` it at `path`."""
    temporary = "{}.{}.tmp".format(path, secrets.token_hex(8))
    fd = private.create_file(temporary)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        _once_free(lambda: place(temporary, path))
    finally:
        try:
            os.remove(temporary)
        except OSError:
            pass  # moved into place already


IN_USE_FOR = 1.0  # seconds: how long a file may be in another process's hands (see private.in_use)


def _once_free(action: Callable[[], T]) -> T:
    """`action()`, tried again while the file it touches is in another process's hands for a moment."""
    deadline = time.monotonic() + IN_USE_FOR
    while True:
        try:
            return action()
        except OSError as exc:
            if not private.in_use(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)
