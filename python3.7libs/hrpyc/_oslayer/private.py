"""Both sides: a folder, and files in it, that only this user may change (and, for a secret, read).

- POSIX (Linux, macOS): the owner's uid and the mode bits: no one else may write (for a secret: read);
  folders are made with mode 700, files with 600, never through a planted link.
- Windows: the owner's SID and the access list: no one but us, SYSTEM and the Administrators (who can
  take any file anyway, as root can) may write (for a secret: read); folders and files are made with a
  protected access list that names us alone ('D:P(A;OICI;FA;;;<our SID>)'), not inherited: under Wine a
  file's access list is its Unix mode, which only such a list sets (0700, 0600). A symbolic link or a
  junction is refused, as a link is on POSIX.
- Elsewhere: made, not checked.

Each check returns a Problem, (what is wrong, what to do), or None; userdir turns it into UnsafeFileError.
"""

import os
import stat
import struct
from typing import List, NamedTuple, Optional, Tuple

from hrpyc._oslayer import system

Problem = Optional[Tuple[str, str]]
ELSEWHERE = "remove it, or set HRPYC_STATE_DIR to a folder of your own"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def make_folder(path: str) -> None:
    """`path` and the folders above it, made if missing; `path` itself closed to other users."""
    if system.NAME == "windows":
        win32 = system.calls("win32")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        win32.make_folder(path, "O:{0}D:P(A;OICI;FA;;;{0})".format(sid_string(win32.own_user())))
    else:
        os.makedirs(path, mode=0o700, exist_ok=True)


def create_file(path: str) -> int:
    """A new file at `path`, open for writing (its descriptor), closed to other users; FileExistsError if
    the name exists, as a planted link too: none is followed."""
    if system.NAME == "windows":
        win32 = system.calls("win32")
        return int(win32.create_file(path, "O:{0}D:P(A;;FA;;;{0})".format(sid_string(win32.own_user()))))
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)


def in_use(exc: OSError) -> bool:
    """Whether opening, replacing or linking a file failed only for a moment: on Windows a file another
    process has open without sharing it, or is deleting (a server making the token as another reads it,
    an antivirus scanning a new file) refuses access until it lets go; elsewhere a refusal is final."""
    return system.NAME == "windows" and isinstance(exc, PermissionError)


def folder_problem(path: str) -> Problem:
    """What makes the folder `path` unsafe to keep this user's secrets in, or None."""
    status = os.lstat(path)
    if system.NAME == "windows":
        win32 = system.calls("win32")
        owner, dacl = win32.security(path)
        return windows_problem(path, status, owner, dacl, win32.own_user(), folder=True)
    if system.NAME in ("linux", "macos"):
        return posix_problem(path, status, system.uid(), folder=True)
    return None


def file_problem(fd: int, path: str, secret: bool) -> Problem:
    """What makes the file open as `fd` (read from `path`) unsafe to trust, or None."""
    if system.NAME == "windows":
        win32 = system.calls("win32")
        owner, dacl = win32.security(fd)
        return windows_problem(path, os.lstat(path), owner, dacl, win32.own_user(), folder=False, secret=secret)
    if system.NAME in ("linux", "macos"):
        return posix_problem(path, os.fstat(fd), system.uid(), folder=False, secret=secret)
    return None


def posix_problem(path: str, status: os.stat_result, uid: int, folder: bool, secret: bool = False) -> Problem:
    kind = "folder" if folder else "file"
    if stat.S_ISLNK(status.st_mode):
        return "is a symbolic link", ELSEWHERE
    if not (stat.S_ISDIR(status.st_mode) if folder else stat.S_ISREG(status.st_mode)):
        return "is not a {}".format(kind), "remove it"
    if status.st_uid != uid:
        return "belongs to another user (uid {})".format(status.st_uid), "remove it"
    if status.st_mode & (0o077 if secret else 0o022):
        mode = "{:o}".format(stat.S_IMODE(status.st_mode))
        return "is open to other users (mode {})".format(mode), "chmod {} {}".format("700" if folder else "600", path)
    return None


# Windows -------------------------------------------------------------------------------------------------

REPARSE_POINT = 0x400  # FILE_ATTRIBUTE_REPARSE_POINT: a symbolic link or a junction
SYSTEM_SID, ADMINISTRATORS = "S-1-5-18", "S-1-5-32-544"
NAMES = {"S-1-1-0": "Everyone", "S-1-5-11": "Authenticated Users", "S-1-5-32-545": "Users", "S-1-5-32-546": "Guests"}
# ACCESS_ALLOWED, _COMPOUND, _OBJECT, _CALLBACK, _CALLBACK_OBJECT; ACE flag INHERIT_ONLY
ALLOWING, OBJECT_ACES, INHERIT_ONLY = frozenset((0, 4, 5, 9, 11)), frozenset((5, 6, 11, 12)), 0x08
# FILE_WRITE_DATA (add a file), FILE_APPEND_DATA (add a folder), FILE_DELETE_CHILD, DELETE, WRITE_DAC,
# WRITE_OWNER, MAXIMUM_ALLOWED, GENERIC_ALL, GENERIC_WRITE
WRITE = 0x2 | 0x4 | 0x40 | 0x10000 | 0x40000 | 0x80000 | 0x2000000 | 0x10000000 | 0x40000000
READ = 0x1 | 0x2000000 | 0x10000000 | 0x80000000  # FILE_READ_DATA, MAXIMUM_ALLOWED, GENERIC_ALL, GENERIC_READ


class Ace(NamedTuple):
    kind: int  # AceType
    flags: int  # AceFlags
    mask: int  # ACCESS_MASK
    sid: str  # '' when this kind of entry names no one we can read


def windows_problem(
    path: str,
    status: os.stat_result,
    owner: bytes,
    dacl: Optional[bytes],
    ours: bytes,
    folder: bool,
    secret: bool = False,
) -> Problem:
    """What the owner (`owner`, a SID) and access list (`dacl`, an ACL; None: none, open to everyone)
    make unsafe, for this user (`ours`, a SID)."""
    kind = "folder" if folder else "file"
    if (getattr(status, "st_file_attributes", 0) or 0) & REPARSE_POINT:
        return "is a symbolic link or junction", ELSEWHERE
    if not (stat.S_ISDIR(status.st_mode) if folder else stat.S_ISREG(status.st_mode)):
        return "is not a {}".format(kind), "remove it"
    trusted = (sid_string(ours), SYSTEM_SID, ADMINISTRATORS)
    if sid_string(owner) not in trusted:
        return "belongs to another user ({})".format(sid_string(owner)), "remove it"
    grant = '"%USERNAME%:{}F"'.format("(OI)(CI)" if folder else "")
    if dacl is None:
        return "is open to everyone (it has no access list)", 'icacls "{}" /inheritance:r /grant:r {}'.format(
            path, grant
        )
    rights = WRITE | (READ if secret else 0)
    others = []
    for ace in acl_entries(dacl):
        if ace.kind in ALLOWING and not ace.flags & INHERIT_ONLY and ace.mask & rights and ace.sid not in trusted:
            if ace.sid not in others:
                others.append(ace.sid)
    if others:
        names = ", ".join("{} ({})".format(NAMES[sid], sid) if sid in NAMES else sid or "?" for sid in others)
        fix = 'icacls "{}" /inheritance:d /remove:g {}'.format(path, " ".join("*" + sid for sid in others if sid))
        return "is open to other users: {} may {}".format(names, "read or change it" if secret else "change it"), fix
    return None


def sid_string(sid: bytes) -> str:
    """A SID (its bytes) as Windows writes it: S-1-5-21-..."""
    if len(sid) < 8 or len(sid) < 8 + 4 * sid[1]:
        return "?"
    parts = [str(sid[0]), str(int.from_bytes(sid[2:8], "big"))]
    parts += [str(sub) for sub in struct.unpack_from("<{}I".format(sid[1]), sid, 8)]
    return "S-" + "-".join(parts)


def acl_entries(acl: bytes) -> List[Ace]:
    """The entries of an ACL (its bytes: an ACL header, then each ACE)."""
    entries: List[Ace] = []
    if len(acl) < 8:
        return entries
    at = 8
    for _ in range(struct.unpack_from("<H", acl, 4)[0]):
        if at + 8 > len(acl):
            break
        kind, flags, size, mask = struct.unpack_from("<BBHI", acl, at)
        if size < 8 or at + size > len(acl):
            break
        sid_at = at + 8
        if kind in OBJECT_ACES:  # a Flags DWORD, then the GUIDs it says are present
            present = struct.unpack_from("<I", acl, sid_at)[0]
            sid_at += 4 + 16 * bin(present & 3).count("1")
        sid = sid_string(acl[sid_at : at + size]) if kind != 4 else ""  # compound entries: not read
        entries.append(Ace(kind, flags, mask, "" if sid == "?" else sid))
        at += size
    return entries
