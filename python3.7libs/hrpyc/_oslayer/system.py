"""Both sides: which OS this is, as the rest of `oslayer` branches on it (tests set NAME to run another
OS's branch here, with that OS's inputs)."""

import importlib
import os
import sys
from typing import Any


def _name(platform: str) -> str:
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    return "linux" if platform.startswith("linux") else "other"


NAME = _name(sys.platform)  # 'linux', 'windows', 'macos' or 'other'


def calls(name: str) -> Any:
    """The module that calls into this OS (`win32`, `darwin`), imported when first used: it imports only there."""
    return importlib.import_module("." + name, __package__)


def uid() -> int:
    """This process's user id (POSIX only)."""
    return os.getuid() if sys.platform != "win32" else -1
