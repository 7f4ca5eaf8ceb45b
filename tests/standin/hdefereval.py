"""A stand-in for Houdini's `hdefereval` (graphical sessions only), for tests: `executeDeferred` queues
a callable that Houdini's event loop runs on the main thread at idle; `executeInMainThreadWithResult`
waits for its result with no timeout, and so deadlocks when called from the main thread, as documented.
`standin_main_loop()` is the stand-in for Houdini's event loop."""

import queue
import threading
import traceback

_queue = queue.Queue()


def executeDeferred(callable_object, *args, **kwargs):
    _queue.put(lambda: callable_object(*args, **kwargs))


def executeInMainThreadWithResult(callable_object, *args, **kwargs):
    done = threading.Event()
    result = []
    _queue.put(lambda: (result.append(callable_object(*args, **kwargs)), done.set()))
    done.wait()
    return result[0]


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
