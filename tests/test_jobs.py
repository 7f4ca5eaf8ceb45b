"""Long work from a client: jobs to watch and cancel, their output, busy messages that say what is busy,
and one undo step for a block of work."""

import linecache
import marshal
import os
import re
import subprocess
import sys
import threading
import time

import pytest
from conftest import (
    BREAK_AS_CTRL_C,
    ServerProcess,
    child_env,
    ctrl_c_able,
    memory_mb,
    needs_process_stats,
    send_ctrl_c,
    wait_for,
)

import hrpyc
import hrpyc._caller.job
import hrpyc._server.job_table
import hrpyc._server.service
import hrpyc._wire.plain

SPIN = (
    "def spin(seconds, marker=None):\n"
    "    import builtins, threading, time\n"
    "    builtins.spins = getattr(builtins, 'spins', 0)\n"
    "    print('spinning on', threading.current_thread().name, flush=True)\n"
    "    until = time.monotonic() + seconds\n"
    "    while time.monotonic() < until:\n"  # pure Python: a loop of bytecodes, no C call to wait out
    "        builtins.spins += 1\n"
    "    if marker:\n"
    "        setattr(builtins, marker, True)\n"
    "    return threading.current_thread().name\n"
)


def spin_job(conn, seconds, marker=None):
    return hrpyc.submit(conn, SPIN + "result = spin({!r}, {!r})".format(seconds, marker))


def spins(conn):
    return hrpyc.run(conn, "import builtins\nresult = getattr(builtins, 'spins', 0)")


def test_submit_returns_at_once_and_the_job_tells_its_state_output_and_result(server_process):
    conn = hrpyc.connect(*server_process.address)

    def countdown(count):
        import time

        for left in range(count, 0, -1):
            print("left", left)
            time.sleep(0.25)
        return "lift-off"

    started = time.monotonic()
    job = hrpyc.submit(conn, countdown, 8)
    assert time.monotonic() - started < 1.5  # returned while it runs (2 s)
    assert job.state == "running" and not job.done()
    wait_for(lambda: "left 7" in job.output, what="the job's output")
    assert job.result(timeout=5) == "lift-off"
    assert job.done() and job.state == "done"
    assert job.output.splitlines() == ["left {}".format(n) for n in range(8, 0, -1)]
    assert job.result() == "lift-off"  # again: the same result, from here


def test_submit_returns_as_soon_as_the_server_has_the_job(remote):
    conn, _ = remote
    took = []
    for _ in range(3):  # the quickest of three: a loaded machine may stall any one call
        started = time.monotonic()
        job = hrpyc.submit(conn, "import time\ntime.sleep(1)")  # quiet: nothing to answer early for
        took.append(time.monotonic() - started)
        assert job.result() is None
    assert min(took) < 0.3, took  # one round trip: the submit waits for nothing (hrpyc.run waits up to 0.5 s)


def test_a_job_runs_on_houdinis_main_thread_while_its_connection_keeps_answering(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address, timeout=1)  # the job is not bound by this
    job = spin_job(conn, 2.0)
    wait_for(lambda: "spinning" in job.output, what="the job to start")
    wait_for(lambda: float(hrpyc.connect(*gui_houdini.address).server_info["busy_for"]) > 0, what="ping to answer")
    assert job.state == "running"
    assert job.result() == "MainThread"
    assert "spinning on MainThread" in job.output


def test_run_is_a_job_waited_for_and_raises_the_codes_error_as_before(remote):
    conn, hou = remote
    assert hrpyc.run(conn, SPIN + "result = spin(1.2)") != "MainThread"  # beyond the submit's own wait
    with pytest.raises(ZeroDivisionError):
        hrpyc.run(conn, "result = 1 / 0")
    job = hrpyc.submit(conn, "raise KeyError('nope')")
    with pytest.raises(KeyError):
        job.result()
    assert job.state == "failed"
    with pytest.raises(KeyError):
        job.result()  # again: the same error
    assert hou.node("/obj/sphere1").path() == "/obj/sphere1"


def test_cancel_stops_python_code_at_once_and_later_requests_work(gui_houdini):
    conn, hou = hrpyc.import_remote_module(*gui_houdini.address)
    job = spin_job(conn, 30, "finished")
    wait_for(lambda: "spinning" in job.output, what="the job to start")
    started = time.monotonic()
    assert job.cancel()
    with pytest.raises(hrpyc.CancelledError) as caught:
        job.result()
    took = time.monotonic() - started
    assert took < 1.0, took  # of a job that would run 30 s
    assert "was cancelled" in str(caught.value) and "\n" not in str(caught.value)
    assert job.state == "cancelled" and not job.cancel()
    assert hou.node("/obj/sphere1").path() == "/obj/sphere1"  # the main thread serves again
    assert not hrpyc.run(conn, "import builtins\nresult = hasattr(builtins, 'finished')")


def test_cancelling_a_queued_job_drops_it_before_it_runs(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address)
    first = spin_job(conn, 1.0)
    second = spin_job(conn, 0.1, "second_ran")
    assert second.state == "queued"
    assert second.cancel()
    assert second.state == "cancelled"
    assert first.result() == "MainThread"
    with pytest.raises(hrpyc.CancelledError):
        second.result()
    assert not hrpyc.run(conn, "import builtins\nresult = hasattr(builtins, 'second_ran')")


CACHE = (
    "import hrpyc, time\n"
    "def cache(frames):\n"
    "    for frame in range(1, frames + 1):\n"
    "        time.sleep(0.05)\n"
    "        hrpyc.progress(frame / frames, 'frame {} of {}'.format(frame, frames))\n"
    "        print('cached', frame, flush=True)\n"
    "        if frame == 2:\n"
    "            time.sleep(1.0)  # long enough for the client to read the progress at frame 2\n"
    "    return frames\n"
)


def test_a_jobs_progress_moves_its_bar_in_houdini_and_reaches_its_client(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address)
    job = hrpyc.submit(conn, CACHE + "result = cache(4)")
    wait_for(lambda: "cached 2" in job.output, what="frame 2")
    assert job.progress == (0.5, "frame 2 of 4")  # reported before it printed
    assert job.result() == 4
    assert job.progress == (1.0, "frame 4 of 4")
    quick = hrpyc.submit(conn, "import hrpyc\nhrpyc.progress(1.0, 'at once')\nresult = 2")
    assert quick.result() == 2 and quick.progress == (1.0, "at once")  # with the news that it ended
    quiet = hrpyc.submit(conn, "result = 1")
    assert quiet.result() == 1 and quiet.progress is None  # its code never said
    # Each job ran inside an InterruptableOperation of its own, named after it and its client, on the
    # main thread; the first one's bar went through the frames.
    operations = hrpyc.run(conn, "import hou\nresult = hou.standin_operations")
    who = "pytest (pid {}, ".format(os.getpid())
    name, long_name, thread, shown = operations[0]
    assert name.startswith("hrpyc: job {} 'code' from {}".format(job.id, who)) and long_name == name
    assert thread == "MainThread"
    assert shown == [(frame / 4, "frame {} of 4".format(frame)) for frame in range(1, 5)]
    assert [operation[0].split(" from ")[0] for operation in operations[1:]] == [
        "hrpyc: job {} 'code'".format(job_id)
        for job_id in (quick.id, quiet.id, quiet.id + 1)  # + this run
    ]


def test_progress_is_kept_to_a_fraction_and_one_printable_line_and_needs_no_hou(server_process):
    conn = hrpyc.connect(*server_process.address)
    job = hrpyc.submit(
        conn, "import hrpyc, sys\nhrpyc.progress(3, '\\x1b[2J' + 'x' * 500)\nresult = 'hou' in sys.modules"
    )
    assert job.result() is False  # a plain Python server: no hou loaded for it
    fraction, message = job.progress
    assert fraction == 1.0
    assert message.startswith("\\x1b[2Jxxx") and message.endswith("...") and len(message) == 200
    hrpyc.run(conn, "import hrpyc\nhrpyc.progress(-2)")  # taken as 0
    with pytest.raises(TypeError, match=r"hrpyc.progress\(fraction=<str>\): give a number from 0 to 1"):
        hrpyc.run(conn, "import hrpyc\nhrpyc.progress('half')")
    with pytest.raises(TypeError, match=r"message=<int>"):
        hrpyc.run(conn, "import hrpyc\nhrpyc.progress(0.5, 12)")


def test_progress_outside_a_job_does_nothing():
    assert hrpyc.progress(0.5, "not in a job") is None
    with pytest.raises(ValueError, match="fraction=nan"):
        hrpyc.progress(float("nan"))


ESCAPABLE = (
    "import hou, hrpyc, time\n"
    "until = time.monotonic() + 30\n"
    "try:\n"
    "    while time.monotonic() < until:\n"
    "        hrpyc.progress(0.25, 'waiting for Esc')\n"
    "        print('working', flush=True)\n"
    "except hou.OperationInterrupted:\n"
    "    print('cleaning up', flush=True)\n"
    "    raise\n"
)


def test_escape_in_houdini_ends_a_job_cancelled_at_its_next_progress_report(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address)
    job = hrpyc.submit(conn, ESCAPABLE)
    wait_for(lambda: "working" in job.output, what="the job to start")
    gui_houdini.tell("esc")
    with pytest.raises(hrpyc.CancelledError) as caught:
        job.result(timeout=5)
    message = str(caught.value)
    assert "job {} 'code' on ".format(job.id) in message and "was cancelled (interrupted in Houdini)" in message
    assert "\n" not in message and job.state == "cancelled"
    assert job.output.endswith("working\ncleaning up\n")  # hou.OperationInterrupted, as Houdini raises it
    assert job.progress == (0.25, "waiting for Esc")
    # Esc was for that job: the next one runs to its end.
    assert hrpyc.run(conn, "import hrpyc\nhrpyc.progress(1.0)\nresult = 'next'") == "next"


def test_escape_in_houdini_stops_a_job_that_never_reports_progress(gui_houdini):
    """hrpyc looks for Esc itself, every 0.1 s between two bytecodes of the job's code, and stops it at the
    look after the one that saw it first."""
    conn = hrpyc.connect(*gui_houdini.address)
    job = spin_job(conn, 30, "finished")
    wait_for(lambda: "spinning" in job.output, what="the job to start")
    pressed = time.monotonic()
    gui_houdini.tell("esc")
    with pytest.raises(hrpyc.CancelledError, match=r"\(interrupted in Houdini\)"):
        job.result(timeout=5)
    took = time.monotonic() - pressed
    assert took < 1.0, took  # 0.1-0.2 s: the second look, then a poll
    assert job.progress is None
    assert not hrpyc.run(conn, "import builtins\nresult = hasattr(builtins, 'finished')")


RENDER_SEES_ESCAPE = (
    "import hou, hrpyc._server.job_table\n"
    "hrpyc._server.job_table._esc_watch._job = None  # hrpyc's own looks off: only what the render says counts here\n"
    "print('rendering', flush=True)\n"
    "hou.standin_wait_for_escape(30)  # a render, in C++, sees the artist's Esc ...\n"
    "raise hou.OperationFailed('Render failed')  # ... and fails in its own words\n"
)


def test_a_job_whose_render_fails_after_escape_in_houdini_ends_cancelled(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address)
    job = hrpyc.submit(conn, RENDER_SEES_ESCAPE)
    wait_for(lambda: "rendering" in job.output, what="the render to start")
    gui_houdini.tell("esc")
    with pytest.raises(hrpyc.CancelledError, match=r"\(interrupted in Houdini\)"):
        job.result(timeout=5)
    with pytest.raises(Exception, match="Render failed"):
        hrpyc.run(conn, RENDER_SEES_ESCAPE.replace("hou.standin_wait_for_escape(30)", "pass"))  # no Esc


def test_hython_runs_jobs_with_progress_and_no_interruptable_operation():
    server = ServerProcess(session="hython_blocking.py")  # hou loaded, no UI; jobs on the main thread
    try:
        conn = hrpyc.connect(*server.address)
        job = hrpyc.submit(conn, CACHE + "import threading\nresult = cache(2), threading.current_thread().name")
        assert job.result() == (2, "MainThread")
        assert job.progress == (1.0, "frame 2 of 2")
        assert hrpyc.run(conn, "import hou\nresult = hou.standin_operations") == []
    finally:
        server.close()


def test_clients_and_servers_from_before_progress_still_run_jobs(local_server, monkeypatch):
    conn = hrpyc.connect(*local_server.address)
    code = "import hrpyc, time\nhrpyc.progress(0.5)\ntime.sleep(0.3)\nresult = 1"
    # A client before progress: submit with six arguments, poll with hrpyc_job_poll; three fields each.
    literal, buffers = hrpyc._wire.plain.pack_arguments((), {}, None)
    answer = conn.root.hrpyc_submit(code, "", literal, buffers, 0.0, 0)
    assert len(answer) == 4
    polls = []
    wait_for(lambda: polls.append(conn.root.hrpyc_job_poll(answer[0], 0, 0.2)) or polls[-1][0] == "done")
    assert {len(poll) for poll in polls} == {3}
    # A server before progress has no hrpyc_job_news: jobs run, and their progress is never known.
    monkeypatch.delattr(hrpyc._server.service.HrpycService, "hrpyc_job_news")
    older = hrpyc.connect(*local_server.address)
    job = hrpyc.submit(older, code)
    assert job.result() == 1 and job.progress is None


def test_result_with_a_timeout_leaves_the_job_running(server_process):
    conn = hrpyc.connect(*server_process.address)
    job = spin_job(conn, 1.5)
    with pytest.raises(hrpyc.JobTimeoutError) as caught:
        job.result(timeout=0.2)
    assert isinstance(caught.value, TimeoutError) and "job.cancel()" in str(caught.value)
    assert job.result(timeout=5)


CLIENT = """
import sys, time, hrpyc
conn = hrpyc.connect("127.0.0.1", int(sys.argv[1]))
print("connected", flush=True)
try:
    hrpyc.run(conn, sys.argv[2])
except hrpyc.CancelledError as exc:
    print("cancelled at", time.monotonic(), exc, flush=True)
"""


def ctrl_c_client(port, code, running, client=CLIENT):
    """A client in its own process runs `code` with hrpyc.run; once `running(process)` says the job runs,
    it gets Ctrl-C. Returns (stdout, stderr, when Ctrl-C was sent)."""
    process = subprocess.Popen(
        [sys.executable, "-c", BREAK_AS_CTRL_C + client, str(port), code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **ctrl_c_able(child_env()),
    )
    try:
        assert process.stdout.readline().startswith("connected")
        running(process)
        sent = time.monotonic()
        send_ctrl_c(process)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    return out, err, sent


def test_ctrl_c_during_run_cancels_the_code_on_the_server(gui_houdini):
    def spinning(process):
        assert process.stdout.readline().startswith("spinning on MainThread")  # streamed as it was printed

    out, err, sent = ctrl_c_client(gui_houdini.port, SPIN + "result = spin(30, 'finished')", spinning)
    assert out.startswith("cancelled at"), err
    took = float(out.split()[2]) - sent
    assert took < 1.0, took  # measured 0.03-0.3 s: up to one poll (0.2 s) to notice Ctrl-C, then the cancel
    conn = hrpyc.connect(*gui_houdini.address)
    assert not hrpyc.run(conn, "import builtins\nresult = hasattr(builtins, 'finished')")


def test_ctrl_c_before_the_server_names_the_job_still_cancels_it(server_process):
    """Ctrl-C while run's first request waits (the job's id not known yet): the job is found by the
    client's own tag and cancelled."""
    waits_long = CLIENT.replace(
        "import sys, time, hrpyc\n", "import sys, time, hrpyc, hrpyc._caller.job\nhrpyc._caller.job.FIRST_WAIT = 30\n"
    )
    code = "import builtins, time\nbuiltins.hrpyc_started = True\nwhile True:\n    time.sleep(0.01)\n"
    probe = hrpyc.connect(*server_process.address)

    def started(process):
        wait_for(lambda: hrpyc.run(probe, "import builtins\nresult = hasattr(builtins, 'hrpyc_started')"))

    out, err, _ = ctrl_c_client(server_process.port, code, started, waits_long)
    assert out.startswith("cancelled at"), err  # CancelledError: the job was cancelled, not just left behind


def test_ctrl_c_during_run_is_a_cancelled_error_alone_not_chained_to_the_ctrl_c(server_process):
    uncaught = (
        "import sys, hrpyc\nconn = hrpyc.connect('127.0.0.1', int(sys.argv[1]))\nprint('connected', flush=True)\n"
    )
    uncaught += "hrpyc.run(conn, sys.argv[2])\n"

    def spinning(process):
        assert process.stdout.readline().startswith("spinning on")

    _, err, _ = ctrl_c_client(server_process.port, SPIN + "result = spin(30)", spinning, uncaught)
    assert err.count("Traceback (most recent call last):") == 1 and "During handling" not in err, err
    assert "KeyboardInterrupt" not in err and "rpyc" not in err.replace("hrpyc", ""), err
    assert err.rstrip().splitlines()[-1].startswith("hrpyc.errors.CancelledError: job "), err


TYPED = """
import sys, hrpyc
conn = hrpyc.connect("127.0.0.1", int(sys.argv[1]))

def scale(x, by=2, *, plus=0):
    import os
    return x * by + plus, os.getpid()

print(hrpyc.run(conn, scale, 20, plus=2)[0], hrpyc.submit(conn, lambda: 7).result())
"""


def test_run_takes_a_function_typed_at_a_prompt_when_the_server_runs_the_same_python(server_process):
    """`python - <<EOF`, a prompt, Maya's or Nuke's script editor: Python keeps no source of what is typed
    there, so the function goes compiled, with its defaults filled in, to a server whose Python is this one."""
    typed = subprocess.run(
        [sys.executable, "-", str(server_process.port)],
        input=TYPED,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert typed.returncode == 0, typed.stderr
    assert typed.stdout.split() == ["42", "7"]


def test_run_takes_a_function_from_script_editor_text(remote, monkeypatch):
    conn, _ = remote
    # Python 3.13 keeps `python -c`'s script as "<string>": what exec'd text is too, so its lines are not this
    monkeypatch.setitem(linecache.cache, "<string>", (9, None, ["import os\n", "print(os.getpid())\n"], "<string>"))
    namespace = {}
    exec(
        "def double(x, by=2):\n    import os\n    return x * by, os.getpid()\n", namespace
    )  # as script editors run text
    assert hrpyc.run(conn, namespace["double"], 21)[0] == 42
    assert hrpyc.run(conn, namespace["double"], 2, by=5)[1] == conn.modules.os.getpid()
    with pytest.raises(TypeError):  # the call's own error, here, before anything is sent
        hrpyc.run(conn, namespace["double"])


def test_a_function_with_no_source_is_refused_in_one_line_where_its_code_cannot_go(remote, monkeypatch):
    conn, _ = remote
    namespace = {}
    exec(
        "def typed():\n    return 1\n\ndef outer(n):\n    def inner():\n        return n\n    return inner\n", namespace
    )
    with pytest.raises(hrpyc.HrpycError) as caught:
        hrpyc.submit(conn, namespace["outer"](3))
    assert "uses variables of the function it is defined in (n); pass them as arguments" in str(caught.value)
    monkeypatch.setitem(conn.server_info, "bytecode", "0d0d0d0a")  # a server on another Python version
    with pytest.raises(hrpyc.HrpycError) as caught:
        hrpyc.run(conn, namespace["typed"])
    said = str(caught.value)
    assert "Python has no source for it" in said and "\n" not in said
    assert said.endswith("pass the code as a string, or define the function in a module file")


def test_the_server_refuses_compiled_code_from_another_python(remote):
    conn, _ = remote
    arguments, buffers = hrpyc._wire.plain.pack_arguments((), {}, None)
    with pytest.raises(ValueError, match="compiled by another Python version than the server's"):
        conn.root.hrpyc_submit(b"\x00\x00\r\n" + marshal.dumps((lambda: 1).__code__), "f", arguments, buffers, 0.0)


def test_run_streams_the_codes_output_as_it_prints_and_only_its_output(server_process, tmp_path):
    conn = hrpyc.connect(*server_process.address)
    # Another thread of the server prints meanwhile: that stays in the server's console.
    hrpyc.run(
        conn,
        "import threading, time\n"
        "def chatter():\n"
        "    for _ in range(40):\n"
        "        print('other thread', flush=True)\n"
        "        time.sleep(0.05)\n"
        "threading.Thread(target=chatter, daemon=True).start()\n",
    )
    # Each step waits until the client has shown its line: output held back until the code ends would
    # leave the first step waiting in vain. Causes, not clocks: a loaded machine cannot fail it.
    heard = tmp_path / "heard"
    code = (
        "import os, sys, time\n"
        "for step in range(5):\n"
        "    print('step', step, flush=True)\n"
        "    deadline = time.monotonic() + 20\n"
        "    while not os.path.exists({!r} + str(step)):\n"
        "        if time.monotonic() > deadline:\n"
        "            sys.exit('step {{}} was not heard while the code ran'.format(step))\n"
        "        time.sleep(0.01)\n"
        "print('warning', file=sys.stderr)\n"
    ).format(str(heard))
    script = "import sys, hrpyc\nhrpyc.run(hrpyc.connect('127.0.0.1', int(sys.argv[1])), sys.argv[2])\n"
    client = subprocess.Popen(
        [sys.executable, "-u", "-c", script, str(server_process.port), code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    for step in range(5):
        assert client.stdout.readline() == "step {}\n".format(step)
        (tmp_path / "heard{}".format(step)).touch()
    out, err = client.communicate(timeout=30)
    assert out == "" and err == "warning\n"
    _, console, _ = server_process.interrupt()
    assert "other thread" in console and "step" not in console


def test_a_job_ends_cancelled_when_its_client_disconnects(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address)
    job = spin_job(conn, 30, "finished")
    wait_for(lambda: "spinning" in job.output, what="the job to start")
    conn.close()
    observer = hrpyc.connect(*gui_houdini.address, timeout=2)
    before = spins(observer)  # answered: the main thread is free again
    assert spins(observer) == before  # and the loop is not running any more
    assert not hrpyc.run(observer, "import builtins\nresult = hasattr(builtins, 'finished')")


def test_jobs_are_listed_with_their_client(local_server):
    conn = hrpyc.connect(*local_server.address)
    job = hrpyc.submit(conn, "import hrpyc\nhrpyc.progress(0.4)\n" + SPIN + "result = spin(1.0)")
    wait_for(lambda: job.progress is not None, what="the job to say how far it is")  # submit waits for nothing
    (client,) = local_server.clients()
    assert len(client.jobs) == 1 and client.jobs[0].startswith("job {} 'code' (running".format(job.id))
    assert client.jobs[0].endswith(" s, 40 %)")
    job.result()
    assert local_server.clients()[0].jobs == ()


def test_a_busy_refusal_names_the_job_and_its_client(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address)
    job = hrpyc.submit(conn, "import time\nuntil = time.monotonic() + 5\nwhile time.monotonic() < until:\n    pass\n")
    _impatient_conn, impatient = hrpyc.import_remote_module(*gui_houdini.address, timeout=2)
    with pytest.raises(hrpyc.HoudiniBusyError) as caught:
        impatient.frame()
    message = str(caught.value)
    assert "is busy: job {} 'code' from pytest (pid {},".format(job.id, os.getpid()) in message, message
    assert re.search(r" for [2-5] s; it did not take the request within 2 s", message) and "\n" not in message
    job.cancel()


def test_a_busy_refusal_names_a_modal_dialog_a_client_opened(gui_houdini):
    _opener_conn, opener = hrpyc.import_remote_module(*gui_houdini.address, timeout=0)
    answered = []
    dialog = threading.Thread(target=lambda: answered.append(opener.ui.displayMessage("Overwrite?")), daemon=True)
    dialog.start()
    wait_for(lambda: float(hrpyc.connect(*gui_houdini.address).server_info["busy_for"]) > 0, what="the dialog")
    _conn, impatient = hrpyc.import_remote_module(*gui_houdini.address, timeout=1)
    with pytest.raises(hrpyc.HoudiniBusyError) as caught:
        impatient.frame()
    assert "is busy: a call of hou.ui.displayMessage from pytest" in str(caught.value), str(caught.value)
    gui_houdini.tell("dismiss")
    dialog.join(5)
    assert answered == [0]


def test_an_undo_group_makes_a_clients_block_one_undo_step(gui_houdini):
    conn, hou = hrpyc.import_remote_module(*gui_houdini.address)
    sphere = hou.node("/obj/sphere1")
    with hrpyc.undo_group(conn, "Scale and move the sphere"):
        sphere.parm("scale").set(2.0)
        hrpyc.run(conn, "import hou\nhou.node('/obj/sphere1').parm('tx').set(1.0)")
        hrpyc.submit(conn, "import hou\nhou.node('/obj/sphere1').parm('tx').set(2.0)")  # left running
    sphere.parm("scale").set(3.0)
    # the job submitted in the block ran inside it: the group closed after it
    assert hou.undos.undoLabels()[:2] == ("Change scale", "Scale and move the sphere")
    assert hou.node("/obj/sphere1").parm("tx").eval() == 2.0


def test_an_undo_group_closes_when_its_client_goes_away(gui_houdini):
    conn, hou = hrpyc.import_remote_module(*gui_houdini.address)
    group = hrpyc.undo_group(conn, "Left open")
    group.__enter__()
    hou.node("/obj/sphere1").parm("tx").set(5.0)
    conn.close()  # the client vanishes mid-block
    _other, other_hou = hrpyc.import_remote_module(*gui_houdini.address)
    wait_for(lambda: other_hou.undos.undoLabels()[:1] == ("Left open",), what="the group to close")
    other_hou.node("/obj/sphere1").parm("tx").set(6.0)
    assert other_hou.undos.undoLabels()[:2] == ("Change tx", "Left open")


def test_an_undo_group_does_nothing_where_there_is_no_undo_history(remote):
    conn, hou = remote  # a hython-like session
    with hrpyc.undo_group(conn, "Nothing"):
        hou.node("/obj/sphere1").parm("tx").set(1.0)
    assert "Nothing" not in hou.undos.undoLabels()


def test_a_connection_with_too_many_jobs_is_refused_in_one_line_until_it_takes_their_results(server_process):
    """Jobs held for a connection - queued, running, or ended with the outcome not taken - are bounded:
    a failed job is held until its error is taken, so a script that never looks fills its share."""
    conn = hrpyc.connect(*server_process.address)
    held = [hrpyc.submit(conn, "raise KeyError('never looked at')") for _ in range(500)]
    with pytest.raises(hrpyc.HrpycError) as caught:
        hrpyc.submit(conn, "result = 1")
    message = str(caught.value)
    assert "did not take the job: this connection has 500 jobs there" in message and "\n" not in message
    assert "job.result()" in message and "job.cancel()" in message
    with pytest.raises(hrpyc.HrpycError):
        hrpyc.run(conn, "result = 1")
    other = hrpyc.connect(*server_process.address)
    assert hrpyc.run(other, "result = 2") == 2  # the bound is the connection's, not the server's
    with pytest.raises(KeyError):
        held[0].result()  # taken: the job is forgotten, and makes room
    assert hrpyc.run(conn, "result = 3") == 3


HOLD = (
    "import builtins, threading\n"
    "if not builtins.__dict__.setdefault('hrpyc_gate', threading.Event()).wait(30):\n"
    "    raise TimeoutError('the test never opened the gate')\n"
    "result = threading.current_thread().name\n"
)


def test_jobs_beyond_the_servers_job_threads_wait_their_turn_and_all_run(server_process, monkeypatch):
    monkeypatch.setattr(hrpyc._caller.job, "FIRST_WAIT", 0)  # submit without waiting for each job
    conn = hrpyc.connect(*server_process.address)
    jobs = [hrpyc.submit(conn, HOLD) for _ in range(40)]
    threading_there = conn.modules.threading  # a proxy: answered on the connection's thread, not a job's

    def job_threads():
        return sum(thread.name == "hrpyc-job" for thread in threading_there.enumerate())

    wait_for(lambda: [job.state for job in jobs].count("running") == 16, what="16 jobs to run")
    assert job_threads() == 16
    assert [job.state for job in jobs].count("queued") == 24
    conn.modules.builtins.hrpyc_gate.set()
    assert {job.result(timeout=30) for job in jobs} <= {"hrpyc-job"}
    assert job_threads() == 16  # kept a while for the next jobs


def test_what_a_job_prints_beyond_what_is_kept_drops_its_oldest_output_and_says_how_much(server_process, monkeypatch):
    monkeypatch.setattr(hrpyc._caller.job, "FIRST_WAIT", 0)
    conn = hrpyc.connect(*server_process.address)
    hrpyc.run(conn, "import builtins, threading\nbuiltins.hrpyc_go = threading.Event()")
    hrpyc.run(conn, "import builtins, threading\nbuiltins.hrpyc_printed = threading.Event()")
    code = (
        "import builtins\n"
        "builtins.hrpyc_go.wait(30)\n"
        "for digit in '0123456789':\n"
        "    print(digit * 1000000)\n"
        "builtins.hrpyc_printed.set()\n"
    )
    job = hrpyc.submit(conn, code)
    conn.modules.builtins.hrpyc_go.set()
    assert conn.modules.builtins.hrpyc_printed.wait(60)
    output = job.output  # read once it all was printed: 10 MB unread, more than the 8 MB kept
    job.result()
    marker = re.search(r"\n\.\.\. ([\d,]+) characters dropped \.\.\.\n", output)
    assert marker, output[:200]
    dropped = int(marker.group(1).replace(",", ""))
    assert len(output) - len(marker.group(0)) + dropped == 10 * 1000001  # nothing else went
    assert output.endswith("9" * 1000000 + "\n")
    assert len(output) < hrpyc._server.job_table.MAX_OUTPUT


@needs_process_stats
def test_a_job_writing_a_million_single_characters_costs_the_server_about_a_megabyte(server_process, monkeypatch):
    monkeypatch.setattr(hrpyc._caller.job, "FIRST_WAIT", 0)
    conn = hrpyc.connect(*server_process.address)

    def resident_mb():
        return memory_mb(server_process.proc.pid)[0]

    hrpyc.run(conn, "print('warm')")  # the job machinery's own first costs
    before = resident_mb()
    code = (
        "import builtins, sys, threading\n"
        "done = builtins.__dict__.setdefault('hrpyc_written', threading.Event())\n"
        "write = sys.stdout.write\n"
        "for _ in range(1000000):\n"
        "    write('x')\n"
        "done.set()\n"
    )
    job = hrpyc.submit(conn, code)
    assert conn.modules.builtins.__dict__.setdefault("hrpyc_written", conn.modules.threading.Event()).wait(60)
    grown = resident_mb() - before  # all of it unread, held by the server
    assert job.output == "x" * 1000000
    assert grown < 16, grown  # measured 1-2 MB; a tuple a write took 70 MB


class _Client(object):
    """A job's connection, as far as a job sees it: `looked` is set each time a print of the job asks
    whether its client is still there - just before it takes the job's lock."""

    def __init__(self):
        self.looked = threading.Event()

    @property
    def closed(self):
        self.looked.set()
        return False


def test_a_cancel_that_lands_as_a_print_takes_the_jobs_lock_leaves_the_job_answering(monkeypatch):
    """cancel() raises in the job's thread (PyThreadState_SetAsyncExc) while it holds the job's lock; a
    print waiting for that lock takes it, and the exception lands at the thread's next bytecode. With a
    long switch interval, the job's thread goes from looking at its client to the lock without giving
    up the GIL, so the exception lands just after the lock is taken, every run."""
    started, go = threading.Event(), threading.Event()
    client = _Client()

    def code():
        started.set()
        go.wait()
        print("the line the cancel meets")

    job = hrpyc._server.job_table.Job(1, "printer", client, code)
    interrupt = hrpyc._server.job_table._interrupt

    def interrupt_once_the_print_waits_for_the_lock(ident, exception):
        if exception is not None:  # cancel(), holding the job's lock
            client.looked.clear()
            go.set()
            assert client.looked.wait(10)  # the job's thread keeps the GIL until it waits for the lock
        interrupt(ident, exception)

    monkeypatch.setattr(hrpyc._server.job_table, "_interrupt", interrupt_once_the_print_waits_for_the_lock)
    # A poller alive while the job's thread is: a thread started later may get the same ident, and a
    # lock left held by the dead thread would let it in.
    asked, answered = threading.Event(), []
    poller = threading.Thread(target=lambda: asked.wait(10) and answered.append(job.news(0, 0)), daemon=True)
    poller.start()
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(30)
    try:
        runner = threading.Thread(target=job.run, daemon=True)
        runner.start()
        assert started.wait(10)
        assert job.cancel("cancelled by its client") == "running"
        runner.join(10)
    finally:
        sys.setswitchinterval(switch_interval)
    assert not runner.is_alive()
    asked.set()
    poller.join(5)
    assert answered == [("cancelled", ())]  # the lock was given back: a poll gets its answer
