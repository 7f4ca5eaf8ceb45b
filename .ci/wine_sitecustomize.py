"""WINE ONLY, never part of the product: the `sitecustomize` of the Windows row's interpreters
(.ci/windows.sh copies it into their site-packages). It plays what Wine 8.0 lacks or gets wrong:

- KERNEL32.CopyFile2, which Python 3.13's shutil.copyfile calls (the interpreter aborts): without it,
  shutil falls back to its portable copy, as on Windows before 8.
- propsys.VariantToString, which the WMI query behind Python 3.12+'s `platform` (uname, system,
  win32_ver) calls (the interpreter aborts): without `_wmi`, platform reads the registry instead,
  as on Pythons before 3.12.
- Wine asks its mount manager (a driver in another process, two round trips through wineserver) for the
  volume of every file opened or stat'ed: about 1 ms each here, and the import system stats each folder
  of sys.path for every top-level import, then stats and opens each module. A stat the import system
  makes is reused for a second, and it reads modules with os.open/os.read (no fstat): imports take half
  the round trips, and the row about a third less time. Python's own rule holds: a module written while
  the process runs is found after importlib.invalidate_caches().
- CreateProcess failing now and then with ERROR_INTERNAL_ERROR (1359) on a loaded machine: tried again.
- Ctrl-Break sent to another process: Wine's console server implements only CTRL_C_EVENT, and a
  process whose output is a pipe has no console at all. A child the tests start to take Ctrl-C
  (tests/conftest.py: ctrl_c_able, send_ctrl_c) waits on an event named after its pid, and raises
  SIGBREAK in itself when it is set, as Windows does on CTRL_BREAK_EVENT: Python's handler, if the
  program installed one, then runs on the main thread; without one the process ends (exit code 3
  here, STATUS_CONTROL_C_EXIT on Windows).
"""

import _winapi
import os
import sys
import time
from importlib import _bootstrap_external

if hasattr(_winapi, "CopyFile2"):
    del _winapi.CopyFile2
sys.modules["_wmi"] = None  # `import _wmi` raises ImportError

_path_stat, _stats = _bootstrap_external._path_stat, {}


def _path_stat_reused(path):
    now = time.monotonic()
    seen = _stats.get(path)
    if seen and now - seen[0] < 1.0:
        return seen[1]
    result = _path_stat(path)
    _stats[path] = (now, result)
    return result


def _get_data(self, path):
    handle = os.open(path, os.O_RDONLY | os.O_BINARY)
    try:
        chunks = []
        while True:
            chunk = os.read(handle, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(handle)


_bootstrap_external._path_stat = _path_stat_reused
_bootstrap_external.FileLoader.get_data = _get_data

_create_process = _winapi.CreateProcess


def _create_process_again(*args):
    for attempt in range(5):
        try:
            return _create_process(*args)
        except OSError as exc:
            if getattr(exc, "winerror", None) != 1359 or attempt == 4:
                raise
        time.sleep(0.2)


_winapi.CreateProcess = _create_process_again  # subprocess looks it up at each call

if os.environ.pop("HRPYC_TEST_WINE_CTRL_BREAK", None):
    import ctypes
    import signal
    import threading

    _kernel32 = ctypes.WinDLL("kernel32")
    _kernel32.CreateEventW.restype = ctypes.c_void_p
    _event = _kernel32.CreateEventW(None, True, False, "hrpyc-test-ctrl-break-{}".format(os.getpid()))

    def _ctrl_break():
        _kernel32.WaitForSingleObject(ctypes.c_void_p(_event), 0xFFFFFFFF)
        signal.raise_signal(signal.SIGBREAK)

    threading.Thread(target=_ctrl_break, name="wine-ctrl-break", daemon=True).start()
