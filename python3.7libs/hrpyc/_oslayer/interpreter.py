"""Both sides: a Python to start a child process with (the panel's Test runs hrpyc._caller.selftest in one).

This one when it is a Python; in Houdini, whose sys.executable is houdini or hython (which would take a
licence), the Python it ships in sys.prefix - `bin/pythonX.Y` (or `bin/python3`) on Linux and macOS,
`python.exe` on Windows; else the first Python on PATH. Never Windows' `python.exe`/`python3.exe` under
%LOCALAPPDATA%\\Microsoft\\WindowsApps: those are the Microsoft Store's App Execution Aliases, which open
the Store when no Store Python is installed (and run one without Houdini's modules when one is).
"""

import ntpath
import os
import posixpath
from typing import Callable, Mapping

from hrpyc._oslayer import system


def for_child(
    executable: str,
    prefix: str,
    version: str,
    environ: Mapping[str, str],
    exists: Callable[[str], bool] = os.path.isfile,
) -> str:
    """The Python to run: `executable`, `prefix` and `version` (X.Y) are sys's, `environ` gives PATH."""
    windows = system.NAME == "windows"
    path = ntpath if windows else posixpath
    if path.basename(executable).lower().startswith("python"):  # running, so no stub, even from the Store
        return executable
    if windows:
        shipped, names = [path.join(prefix, "python.exe")], ("python.exe", "python3.exe")
    else:
        shipped, names = (
            [path.join(prefix, "bin", "python" + version), path.join(prefix, "bin", "python3")],
            ("python3", "python"),
        )
    on_path = [
        path.join(folder, name)
        for folder in environ.get("PATH", "").split(";" if windows else ":")
        if folder
        for name in names
    ]
    for candidate in shipped + on_path:
        if not (windows and store_alias(candidate)) and exists(candidate):
            return candidate
    return executable


def store_alias(program: str) -> bool:
    """Is `program` in a WindowsApps folder, where the Microsoft Store's App Execution Aliases are?"""
    return ntpath.basename(ntpath.dirname(ntpath.normcase(program))) == "windowsapps"
