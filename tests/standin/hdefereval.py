"""A stand-in for Houdini's `hdefereval` (graphical sessions only), for tests: `executeDeferred` queues
a callable that Houdini's event loop runs on the main thread at idle; `executeInMainThreadWithResult`
waits for its result with no timeout, and so deadlocks when called from the main thread, as documented.
`standin_main_loop()` is the stand-in for Houdini's event loop."""

import queue
import sys
import threading
import traceback

_queue = queue.Queue()


def _queueDeferred(code, args, kwargs, block, num_waits=0):
    """Houdini 22's shape: every call goes through this helper; block=True waits, with no timeout,
    for the main loop to run `code` (a callable, or an expression string evaluated in __main__)."""
    done, result = threading.Event(), []

    def job():
        if callable(code):
            result.append(code(*args, **kwargs))
        else:
            result.append(eval(code, vars(sys.modules["__main__"])))
        done.set()

    _queue.put(job)
    if block:
        done.wait()
        return result[0]
    return None


def executeDeferred(code, *args, **kwargs):
    _queueDeferred(code, args, kwargs, block=False)


def executeInMainThreadWithResult(code, *args, **kwargs):
    return _queueDeferred(code, args, kwargs, block=True)


execute_in_main_thread_with_result = executeInMainThreadWithResult  # Houdini's snake_case alias


def standin_main_loop():
    """Run deferred callables on this (the main) thread, one at a time, until standin_quit()."""
    while True:
        job = _queue.get()
        if job is None:
            return
        try:
            job()
        except Exception:
            traceback.print_exc()


def standin_quit():
    _queue.put(None)
