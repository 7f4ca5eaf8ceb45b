"""Where requests run, and that Houdini never freezes or deadlocks because of them."""

import json
import threading
import time

import pytest
from conftest import ServerProcess, cpu_seconds, hrpyc_cli, needs_cpu_times, needs_process_stats, wait_for

import hrpyc
from hrpyc._server import main_thread_dispatch


def calls_threads(hou):
    """The threads the stand-in hou saw each of its calls on."""
    return {thread for _, thread in list(hou.standin_calls)}


def test_a_hython_like_session_runs_requests_on_their_connection_threads(server_process):
    assert server_process.dispatch == "thread"
    conn, hou = hrpyc.import_remote_module(*server_process.address)
    hou.node("/obj/sphere1").parm("scale").eval()
    assert conn.server_info["dispatch"] == "thread"
    assert "MainThread" not in calls_threads(hou)


def test_a_graphical_houdini_runs_every_kind_of_request_on_its_main_thread(gui_houdini):
    assert gui_houdini.dispatch == "main"
    conn, hou = hrpyc.import_remote_module(*gui_houdini.address)
    sphere = hou.node("/obj/sphere1")  # attribute access and call
    sphere.parm("scale").set(4.0)
    assert [child.name() for child in hou.node("/obj").children()] == ["sphere1"]  # iteration
    assert sphere == hou.node("/obj/sphere1")  # comparison
    assert "sphere1" in str(sphere)  # str
    del sphere  # deletes
    assert conn.modules.threading.current_thread().name == "MainThread"  # plain Python too
    assert calls_threads(hou) == {"MainThread"}


def test_attribute_reads_that_run_code_and_deletions_run_on_the_main_thread(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address)
    conn.execute(
        "import threading\n"
        "deleted_on = []\n"
        "class Probe(object):\n"
        "    @property\n"
        "    def read_on(self):\n"
        "        return threading.current_thread().name\n"
        "    def __del__(self):\n"
        "        deleted_on.append(threading.current_thread().name)\n"
    )
    probe = conn.namespace["Probe"]()
    assert probe.read_on == "MainThread"
    del probe
    wait_for(lambda: list(conn.namespace["deleted_on"]) == ["MainThread"], what="the proxy's deletion")


@pytest.fixture
def qt_app():
    server = ServerProcess(session="qt_app.py")
    yield server
    server.close()


def test_a_qt_application_runs_requests_on_the_qt_main_thread(qt_app):
    assert qt_app.dispatch == "qt"
    conn, hou = hrpyc.import_remote_module(*qt_app.address)
    hou.node("/obj/sphere1").parm("scale").set(5.0)
    assert conn.modules.threading.current_thread().name == "MainThread"
    assert calls_threads(hou) == {"MainThread"}


def test_a_shelf_tool_calling_its_own_houdini_does_not_freeze_it(gui_houdini):
    """A script on Houdini's main thread connects to its own server: the main thread waits on the
    socket, so its requests must not wait for the main thread."""
    conn = hrpyc.connect(*gui_houdini.address, timeout=5)
    started = time.monotonic()
    conn.execute(
        "import hrpyc\n"
        "own, own_hou = hrpyc.import_remote_module(port={}, timeout=3)\n"
        "path = own_hou.node('/obj/sphere1').path()\n"
        "own.close()\n".format(gui_houdini.port)
    )
    assert conn.namespace["path"] == "/obj/sphere1"
    assert time.monotonic() - started < 2.5  # well inside the 3 s that would mean "busy"


def test_callbacks_from_the_main_thread_into_the_client_and_nested_calls_back(gui_houdini):
    conn, hou = hrpyc.import_remote_module(*gui_houdini.address)
    conn.execute("def call_twice(f, x):\n    return f(f(x))\n")
    seen = []

    def callback(x):
        seen.append(x)
        return x + hou.frame()  # a nested request, back into Houdini, from inside its main thread's call

    assert conn.namespace["call_twice"](callback, 1) == 3
    assert seen == [1, 2]
    assert calls_threads(hou) == {"MainThread"}


def test_many_clients_at_once_are_all_answered_on_the_main_thread(gui_houdini):
    errors, done = [], []

    def client():
        try:
            conn, hou = hrpyc.import_remote_module(*gui_houdini.address)
            for i in range(25):
                hou.node("/obj/sphere1").parm("tx").set(i)
            done.append(1)
            conn.close()
        except Exception as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(done) == 8
    _, hou = hrpyc.import_remote_module(*gui_houdini.address)
    assert calls_threads(hou) == {"MainThread"}


def occupy_main_thread(address, seconds, until=None):
    """A client whose request keeps Houdini's main thread busy for `seconds`, or until the file `until`
    exists (at most `seconds`); returns its thread."""
    conn = hrpyc.connect(*address, timeout=0)
    hold = "import os, time\nend = time.monotonic() + {}\n".format(seconds)
    hold += "while time.monotonic() < end and not os.path.exists({!r}):\n    time.sleep(0.01)".format(str(until))

    def sleep_on_main():
        try:
            conn.execute(hold) if until else conn.modules.time.sleep(seconds)
        except EOFError:
            pass  # the test stopped the server meanwhile
        conn.close()

    busy = threading.Thread(target=sleep_on_main, daemon=True)
    busy.start()
    wait_for(
        lambda: float(hrpyc.connect(*address).server_info["busy_for"]) > 0.05,
        what="the main thread to be busy",
    )
    return busy


def test_a_busy_houdini_fails_fast_with_houdini_busy_error_and_drops_the_request(gui_houdini):
    _conn, hou = hrpyc.import_remote_module(*gui_houdini.address, timeout=0)  # both kept while in use
    busy = occupy_main_thread(gui_houdini.address, 3)
    _impatient_conn, impatient = hrpyc.import_remote_module(*gui_houdini.address, timeout=1)
    started = time.monotonic()
    with pytest.raises(hrpyc.HoudiniBusyError) as caught:
        impatient.setFrame(99)
    assert time.monotonic() - started < 1.5
    message = str(caught.value)
    assert "did not take the request within 1 s" in message and "busy" in message and "\n" not in message
    assert isinstance(caught.value, hrpyc.RequestTimeoutError)
    busy.join(10)
    assert hou.frame() != 99  # dropped, never run late
    assert "setFrame" not in [name for name, _ in hou.standin_calls]


def test_ping_answers_while_houdini_is_busy_and_says_for_how_long(gui_houdini, tmp_path):
    done = tmp_path / "done"  # busy until ping has answered, however long the command takes to start
    busy = occupy_main_thread(gui_houdini.address, 60, until=done)
    wait_for(lambda: float(hrpyc.connect(*gui_houdini.address).server_info["busy_for"]) >= 1.0, what="1 s busy")
    result = hrpyc_cli("ping", "{}:{}".format(*gui_houdini.address))
    done.touch()
    assert result.returncode == 0, result.stderr
    assert "is alive" in result.stdout and "main thread busy for" in result.stdout
    busy.join(10)


def test_stopping_with_requests_queued_fails_them_cleanly_and_never_runs_them(gui_houdini):
    # Connected before the stop (on a slow machine a handshake in the thread could meet the stopped server).
    remotes = [hrpyc.import_remote_module(*gui_houdini.address, timeout=0) for _ in range(2)]
    occupy_main_thread(gui_houdini.address, 2)
    outcomes = []

    def queued_client(hou):
        try:
            hou.setFrame(55)
            outcomes.append("ran")
        except Exception as exc:  # the outcome is what we check
            outcomes.append(type(exc).__name__)

    clients = [threading.Thread(target=queued_client, args=(hou,)) for _, hou in remotes]
    for client in clients:
        client.start()
    wait_for(lambda: float(hrpyc.connect(*gui_houdini.address).server_info["busy_for"]) > 0.3, what="queue")
    started = time.monotonic()
    gui_houdini.tell("stop")
    for client in clients:
        client.join(5)
    assert time.monotonic() - started < 1.5  # before the main thread is free again
    assert len(outcomes) == 2 and "ran" not in outcomes
    gui_houdini.tell("quit")
    out = gui_houdini.finish()
    calls = json.loads(out.split("calls ", 1)[1])
    assert "setFrame" not in [name for name, _ in calls]


def test_serve_callbacks_lets_houdini_call_the_client_later_without_a_stall(gui_houdini):
    listener = hrpyc.connect(*gui_houdini.address, serve_callbacks=True)
    heard = threading.Event()
    listener.execute("callbacks = []")
    listener.namespace["callbacks"].append(lambda event: heard.set())
    # Later, another client makes Houdini fire its event callbacks, from its main thread.
    trigger = hrpyc.connect(*gui_houdini.address, timeout=5)
    trigger.execute(
        "import gc\n"
        "namespaces = [o for o in gc.get_objects() if isinstance(o, dict) and 'callbacks' in o]\n"
        "for namespace in namespaces:\n"
        "    for callback in namespace['callbacks']:\n"
        "        callback('sceneSaved')\n"
    )
    assert heard.wait(5)
    listener.close()


@needs_process_stats
@needs_cpu_times
def test_an_idle_server_costs_no_cpu(gui_houdini):
    hrpyc.connect(*gui_houdini.address).close()
    before = cpu_seconds(gui_houdini.proc.pid)
    time.sleep(2)  # the measurement itself: two seconds of idling
    assert cpu_seconds(gui_houdini.proc.pid) - before < 0.05


def test_dispatch_can_be_forced_to_thread_in_a_graphical_session():
    server = ServerProcess(session="gui_houdini.py", HRPYC_DISPATCH="thread")
    try:
        assert server.dispatch == "thread"
        _, hou = hrpyc.import_remote_module(*server.address)
        hou.frame()
        assert "MainThread" not in calls_threads(hou)
    finally:
        server.close()


def test_main_dispatch_outside_a_graphical_houdini_is_refused_in_one_line():
    with pytest.raises(hrpyc.DispatchError) as caught:
        hrpyc.start_server(port=0, dispatch="main")
    assert "hdefereval" in str(caught.value) and "\n" not in str(caught.value)
    assert hrpyc.running_server() is None


def test_a_bad_hrpyc_dispatch_is_a_one_line_config_error(monkeypatch):
    monkeypatch.setenv("HRPYC_DISPATCH", "gpu")
    with pytest.raises(hrpyc.ConfigError) as caught:
        hrpyc.start_server(port=0)
    assert "HRPYC_DISPATCH='gpu'" in str(caught.value) and "thread" in str(caught.value)


class _Request(object):
    """A request as a dispatcher takes it, from a client that waits `timeout` s."""

    light = needs_no_reply = False

    def __init__(self, timeout):
        self.conn = type("Conn", (), {"timeout": timeout})()
        self.refused = None

    def run(self, enter=None):
        raise AssertionError("a request queued as the server stops must never run")

    def refuse(self, error):
        self.refused = error


def test_a_request_that_times_out_as_the_server_stops_is_told_so_and_its_client_kept(monkeypatch):
    """stop() empties the main thread's queue, then settles what it took; a request whose wait timed out
    in between once looked for itself in the emptied queue, met a ValueError and lost its client. Here
    its wait times out exactly then: its time is up once stop() has taken the queue, and stop() settles
    only after the request has looked."""
    dispatcher = main_thread_dispatch.MainThreadDispatcher("main", lambda drain: None)  # nothing drains: all waits
    call_class = main_thread_dispatch.MainThreadCall
    wait, settle = call_class.wait, call_class.settle
    queued, taken, looked, settles = threading.Event(), threading.Event(), threading.Event(), []

    def wait_as_the_server_stops(call, seconds):
        if seconds is None:  # it saw it cannot be refused as busy: it waits for the end
            looked.set()
            return wait(call, seconds)
        queued.set()
        assert taken.wait(10)
        return False  # its time is up

    monkeypatch.setattr(call_class, "wait", wait_as_the_server_stops)
    monkeypatch.setattr(call_class, "settle", lambda call, state: settles.append((call, state)))
    request, outcome = _Request(timeout=5), []

    def serve():
        try:
            dispatcher.run(request)
            outcome.append(request.refused)
        except Exception as error:  # what dropped the client
            outcome.append(error)

    server_thread = threading.Thread(target=serve, daemon=True)
    server_thread.start()
    assert queued.wait(10)
    dispatcher.close()  # takes the queue; what it settles waits in `settles`
    taken.set()
    wait_for(lambda: looked.is_set() or not server_thread.is_alive(), what="the request to look")
    for call, state in settles:
        settle(call, state)
    server_thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionAbortedError), outcome
    assert "stopped before the request ran" in str(outcome[0])


def test_houdinis_main_thread_follows_a_script_for_the_same_short_while_on_a_coarse_clock(monkeypatch):
    """Windows' time.monotonic ticks every 15.6 ms before Python 3.13 (Houdini 18.5-21): between two ticks it
    stands still. Following a script's next requests must still end after FOLLOW_FOR, so that Houdini's event
    loop gets its main thread back, however fast the script calls."""
    import types

    ticking = time.monotonic()  # a clock between two of its ticks
    clock = types.SimpleNamespace(monotonic=lambda: ticking, perf_counter=time.perf_counter)
    monkeypatch.setattr(main_thread_dispatch, "time", clock)

    class Script(object):  # a client whose next request has always come (for 2 s: the test then fails)
        served = 0

        def can_be_served_elsewhere(self):
            return True

        def serve_next(self, seconds):
            self.served += 1
            return time.perf_counter() - started < 2

    dispatcher, script = main_thread_dispatch.MainThreadDispatcher("test", post=lambda drain: None), Script()
    started = time.perf_counter()
    dispatcher._follow(script)
    took = time.perf_counter() - started
    assert script.served > 1 and main_thread_dispatch.FOLLOW_FOR <= took < 1, (script.served, took)
