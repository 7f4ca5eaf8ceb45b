"""Long work from a client: jobs to watch and cancel, their output, busy messages that say what is busy,
and one undo step for a block of work."""

import os
import re
import subprocess
import sys
import threading
import time

import pytest
from conftest import child_env, ctrl_c_able, send_ctrl_c, wait_for

import hrpyc

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
            time.sleep(0.1)
        return "lift-off"

    started = time.monotonic()
    job = hrpyc.submit(conn, countdown, 8)
    assert time.monotonic() - started < 0.7  # returned while it runs (the submit waits up to 0.5 s)
    assert job.state == "running" and not job.done()
    wait_for(lambda: "left 7" in job.output, what="the job's output")
    assert job.result(timeout=5) == "lift-off"
    assert job.done() and job.state == "done"
    assert job.output.splitlines() == ["left {}".format(n) for n in range(8, 0, -1)]
    assert job.result() == "lift-off"  # again: the same result, from here


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
    assert took < 0.5, took
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
        [sys.executable, "-c", client, str(port), code],
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
        "import sys, time, hrpyc\n", "import sys, time, hrpyc, hrpyc.job\nhrpyc.job.FIRST_WAIT = 30\n"
    )
    code = "import builtins, time\nbuiltins.hrpyc_started = True\nwhile True:\n    time.sleep(0.01)\n"
    probe = hrpyc.connect(*server_process.address)

    def started(process):
        wait_for(lambda: hrpyc.run(probe, "import builtins\nresult = hasattr(builtins, 'hrpyc_started')"))

    out, err, _ = ctrl_c_client(server_process.port, code, started, waits_long)
    assert out.startswith("cancelled at"), err  # CancelledError: the job was cancelled, not just left behind


def test_run_streams_the_codes_output_as_it_prints_and_only_its_output(server_process):
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
    code = (
        "import sys, time\n"
        "for step in range(5):\n"
        "    print('step', step, time.time(), flush=True)\n"
        "    time.sleep(0.2)\n"
        "print('warning', file=sys.stderr)\n"
    )
    script = "import sys, hrpyc\nhrpyc.run(hrpyc.connect('127.0.0.1', int(sys.argv[1])), sys.argv[2])\n"
    client = subprocess.Popen(
        [sys.executable, "-u", "-c", script, str(server_process.port), code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    lateness = []
    for _ in range(5):
        line = client.stdout.readline()
        assert line.startswith("step"), line
        lateness.append(time.time() - float(line.split()[2]))
    out, err = client.communicate(timeout=10)
    assert out == "" and err == "warning\n"
    assert max(lateness) < 0.15, lateness  # each line arrives well before the next is printed
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
    job = spin_job(conn, 1.0)
    (client,) = local_server.clients()
    assert len(client.jobs) == 1 and client.jobs[0].startswith("job {} 'code' (running".format(job.id))
    job.result()
    assert local_server.clients()[0].jobs == ()


def test_a_busy_refusal_names_the_job_and_its_client(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address)
    job = hrpyc.submit(conn, "import time\nuntil = time.monotonic() + 3\nwhile time.monotonic() < until:\n    pass\n")
    _impatient_conn, impatient = hrpyc.import_remote_module(*gui_houdini.address, timeout=1)
    with pytest.raises(hrpyc.HoudiniBusyError) as caught:
        impatient.frame()
    message = str(caught.value)
    assert "is busy: job {} 'code' from pytest (pid {},".format(job.id, os.getpid()) in message, message
    assert re.search(r" for [1-4] s; it did not take the request within 1 s", message) and "\n" not in message
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
