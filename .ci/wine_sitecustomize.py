"""WINE ONLY, never part of the product: the `sitecustomize` of the Windows row's interpreters
(.ci/windows.sh copies it into their site-packages). It plays what Wine 8.0 lacks or gets wrong:

- KERNEL32.CopyFile2, which Python 3.13's shutil.copyfile calls (the interpreter aborts): without it,
  shutil falls back to its portable copy, as on Windows before 8.
- propsys.VariantToString, which the WMI query behind Python 3.12+'s `platform` (uname, system,
  win32_ver) calls (the interpreter aborts): without `_wmi`, platform reads the registry instead,
  as on Pythons before 3.12.
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

if hasattr(_winapi, "CopyFile2"):
    del _winapi.CopyFile2
sys.modules["_wmi"] = None  # `import _wmi` raises ImportError

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
