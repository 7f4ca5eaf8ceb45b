"""Server side: hrpyc's own looks for the artist's Esc while a job's code holds Houdini's main thread, so
that Esc stops code that neither reports progress nor calls into Houdini (see hrpyc._server.job_record)."""

from __future__ import annotations

import ctypes
import threading
import time
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from hrpyc._server.job_record import JobRecord

CHECK_EVERY = 0.1  # seconds between hrpyc's looks for the artist's Esc while a job holds the main thread

# Py_AddPendingCall(func, arg): CPython calls `func(arg)` on the main thread at its next bytecode, as it
# runs signal handlers, and raises the error it returns (-1) there, as it raises KeyboardInterrupt.
# PyObject_IsTrue(obj) has that signature, `int f(void *)`, and calls obj.__bool__ (see EscWatch).
_add_pending_call = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(
    ("Py_AddPendingCall", ctypes.pythonapi)
)
_IS_TRUE = ctypes.cast(ctypes.pythonapi.PyObject_IsTrue, ctypes.c_void_p)


class EscWatch(object):
    """Every CHECK_EVERY s while a job runs inside a Houdini operation (on the main thread), look for the
    artist's Esc between two bytecodes of its code, so Esc stops code that neither reports progress nor
    calls into Houdini. A thread of its own asks CPython for the look (a pending call, one at a time);
    the main thread makes it (__bool__), and an Interrupted it raises stops the code there, like a cancel.
    Code inside a C++ call is looked at once it returns."""

    def __init__(self) -> None:
        self._job: Optional[JobRecord] = None  # the job watched, set and cleared on its thread
        self._watching = threading.Event()
        self._asked = False  # a look is pending: the main thread has not run Python since it was asked
        self._started = False
        self._lock = threading.Lock()

    def watch(self, job: JobRecord) -> None:
        """Look for Esc while `job` runs (its code on the calling thread, the main thread)."""
        self._job = job
        self._watching.set()
        with self._lock:
            start, self._started = not self._started, True
        if start:
            threading.Thread(target=self._ask, name="hrpyc-esc", daemon=True).start()

    def unwatch(self, job: JobRecord) -> None:
        if self._job is job:
            self._job = None
            self._watching.clear()

    def _ask(self) -> None:
        while self._watching.wait():
            time.sleep(CHECK_EVERY)
            if self._job is not None and not self._asked:
                self._asked = True
                if _add_pending_call(_IS_TRUE, id(self)) != 0:  # CPython's queue is full: next time
                    self._asked = False

    def __bool__(self) -> bool:
        """The look, on the main thread, between two bytecodes of whatever Python runs there."""
        self._asked = False
        job = self._job
        if job is not None:
            job.checkpoint()  # Interrupted after Esc: raised in the job's code
        return False


watcher = EscWatch()  # lives as long as the process: a pending call holds its address
