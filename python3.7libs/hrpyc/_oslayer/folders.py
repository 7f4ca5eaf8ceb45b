"""Both sides: this user's Houdini preference folder (where Houdini reads packages/), found as Houdini finds it.

HOUDINI_USER_PREF_DIR when it is set (its __HVER__ stands for the version, X.Y); else
- Windows: %HOME%\\houdiniX.Y when HOME is set, else houdiniX.Y in the Documents known folder
  (SHGetKnownFolderPath(FOLDERID_Documents), which managed PCs often redirect to OneDrive);
- macOS: ~/Library/Preferences/houdini/X.Y;
- Linux and elsewhere: ~/houdiniX.Y.
"""

import ntpath
import os
import posixpath
from typing import Callable, Optional, Tuple

from hrpyc._oslayer import system

VERSION = "__HVER__"  # where X.Y goes in a folder's pattern, as in HOUDINI_USER_PREF_DIR


def preference_pattern(override: str, homes: Tuple[str, str]) -> Tuple[str, str]:
    """(pattern, why): the folder, with VERSION where Houdini's X.Y goes (an `override` without it: one
    folder for every version), and why it is that one, for the installer to say. `override`:
    HOUDINI_USER_PREF_DIR; `homes`: HOME and USERPROFILE, which Houdini on Windows reads ('' if unset)."""
    if override:
        return override, "HOUDINI_USER_PREF_DIR is set"
    if system.NAME == "windows":
        return windows_pattern(homes[0], lambda: system.calls("win32").documents_folder(), homes[1])
    return posix_pattern(system.NAME, os.path.expanduser("~"))


def windows_pattern(home: str, documents: Callable[[], Optional[str]], profile: str) -> Tuple[str, str]:
    """Houdini on Windows: %HOME%\\houdiniX.Y if HOME is set, else the Documents known folder's."""
    if home:
        return ntpath.join(home, "houdini" + VERSION), "HOME is set, so Houdini on Windows uses %HOME%\\houdiniX.Y"
    try:
        found = documents()
    except OSError:
        found = None
    if found:
        return ntpath.join(found, "houdini" + VERSION), "Windows' Documents folder (HOME is not set)"
    return (
        ntpath.join(profile, "Documents", "houdini" + VERSION),
        "Windows did not say where the Documents folder is (HOME is not set): %USERPROFILE%\\Documents",
    )


def posix_pattern(name: str, home: str) -> Tuple[str, str]:
    if name == "macos":
        return posixpath.join(home, "Library", "Preferences", "houdini", VERSION), "Houdini's folder on macOS"
    return posixpath.join(home, "houdini" + VERSION), "Houdini's folder on Linux"
