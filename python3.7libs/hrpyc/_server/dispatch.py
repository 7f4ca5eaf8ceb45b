"""Server side: where a request runs: the one seam that decides, per server, which thread touches `hou`.

- `main`  a graphical Houdini: requests run on Houdini's main thread, queued with
          `hdefereval.executeDeferred` and awaited on a per-request lock (never
          `executeInMainThreadWithResult`: no timeout, deadlocks from the main thread, shared result).
- `qt`    any other process with a Qt application: requests run on the Qt main thread.
- `thread` hython and plain Python: requests run on their connection's thread, in Houdini's main
          time context.
- `caller` `start_server(use_thread=False)`: requests run on the thread that called it (in hython,
          the main thread), one at a time, as in the main-thread modes.

`thread` is hrpyc._server.thread_dispatch (with the Dispatcher interface), the others
hrpyc._server.main_thread_dispatch; jobs that run off the main thread, hrpyc._server.job_threads.

Whatever the mode, a thread that waits here - a request for its turn or its answer, a job thread for work -
sleeps on a lock until woken. One loop polls: after answering a client, the main thread reads that client's
next request itself, in FOLLOW_WAIT slices for up to FOLLOW_FOR (see MainThreadDispatcher._follow).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

from hrpyc._houdini import houdini
from hrpyc._server import qtloop
from hrpyc._server.main_thread_dispatch import Adapt, MainThreadDispatcher, Post
from hrpyc._server.thread_dispatch import Dispatcher, ThreadDispatcher
from hrpyc.errors import DispatchError


class MainThreadMode(NamedTuple):
    name: str
    find_poster: Callable[[], Optional[Post]]
    adapt: Optional[Adapt]  # see houdini.waits_run_directly
    missing: str  # why the mode cannot work, when find_poster finds nothing


# The main-thread modes 'auto' tries, in order.
_MAIN_THREADS = (
    MainThreadMode(
        "main",
        houdini.deferred_poster,
        houdini.waits_run_directly,
        "no graphical Houdini here (hython and plain Python have no hdefereval)",
    ),
    MainThreadMode("qt", qtloop.application_poster, None, "this process has no PySide2/PySide6 QApplication"),
)


def make_dispatcher(mode: str) -> Dispatcher:
    """The dispatcher for `mode` ('auto' picks main, then qt, then thread); DispatchError if impossible."""
    for main_thread in _MAIN_THREADS:
        if mode in ("auto", main_thread.name):
            post = main_thread.find_poster()
            if post is not None:
                return MainThreadDispatcher(main_thread.name, post, main_thread.adapt)
            if mode == main_thread.name:
                raise DispatchError(mode, main_thread.missing)
    return ThreadDispatcher()
