"""Code written against SideFX's hrpyc runs unchanged: its module surface, servers tools build from it,
`close()`, `hdefereval` from a request on the main thread, and `start_server(use_thread=False)`."""

import logging
import os
import socket
import subprocess
import sys
import threading

import pytest
import rpyc
import rpyc.core
import rpyc.utils.classic
import rpyc.utils.registry
import rpyc.utils.server
from conftest import ServerProcess, child_env, wait_for

import hrpyc

# This interpreter, and those with other rpyc versions (.ci/run builds them).
CLIENTS = [sys.executable] + [p for p in os.environ.get("HRPYC_TEST_CLIENTS", "").split(os.pathsep) if p]


def test_sidefx_module_names_are_the_rpyc_objects_they_were():
    assert hrpyc.rpyc is rpyc
    assert hrpyc.SlaveService is rpyc.core.SlaveService
    assert hrpyc.DEFAULT_SERVER_PORT == rpyc.utils.classic.DEFAULT_SERVER_PORT
    assert hrpyc.REGISTRY_PORT == rpyc.utils.registry.REGISTRY_PORT
    assert issubclass(hrpyc.ThreadedServer, rpyc.utils.server.ThreadedServer)


def _tool_server(cls=None, host="127.0.0.1"):
    """A server as public Houdini tools build one from SideFX's module, started on a thread."""
    server = (cls or hrpyc.ThreadedServer)(
        hrpyc.SlaveService, hostname=host, port=0, reuse_addr=True, registrar=None, auto_register=False
    )
    server.logger.quiet = True
    thread = threading.Thread(target=server.start, daemon=True)
    thread.start()
    wait_for(lambda: server.active, what="start() to listen")  # rpyc binds at once, listens in start()
    return server, thread


def test_a_tool_built_server_serves_stock_clients_on_connection_threads_and_closes():
    server, thread = _tool_server()
    try:
        assert server.port > 0  # port 0: the one bound
        conn = rpyc.classic.connect("127.0.0.1", server.port)
        assert conn.modules.os.getpid() == os.getpid()
        assert conn.modules.threading.current_thread().name != "MainThread"  # SideFX's contract
        accepted = [s for s in list(server.clients) if s.fileno() >= 0]
        assert accepted and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in accepted)
        conn.close()
    finally:
        server.close()
    thread.join(5)
    assert not thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_a_subclass_of_the_tool_server_keeps_its_hooks():
    seen = []

    class Counting(hrpyc.ThreadedServer):
        def _accept_method(self, sock):
            seen.append(sock)
            super()._accept_method(sock)

    server, thread = _tool_server(Counting)
    try:
        conn = rpyc.classic.connect("127.0.0.1", server.port)
        assert conn.modules.sys.version_info[0] == 3 and len(seen) == 1
        conn.close()
    finally:
        server.close()
        thread.join(5)


@pytest.mark.parametrize("python", CLIENTS, ids=lambda p: os.path.basename(os.path.dirname(os.path.dirname(p))))
def test_a_tool_built_server_answers_every_rpyc_generation(python):
    server, thread = _tool_server()
    try:
        script = "import rpyc, sys; print(rpyc.classic.connect('127.0.0.1', int(sys.argv[1])).modules.os.getpid())"
        out = subprocess.run(
            [python, "-c", script, str(server.port)], capture_output=True, text=True, timeout=60, env=child_env()
        )
        assert out.stdout.strip() == str(os.getpid()), out.stderr
    finally:
        server.close()
        thread.join(5)


def test_a_tool_built_server_beyond_loopback_without_authenticator_warns_loudly(caplog):
    with caplog.at_level(logging.WARNING, logger="hrpyc"):
        server = hrpyc.ThreadedServer(hrpyc.SlaveService, hostname="0.0.0.0", port=0, auto_register=False)
        server.close()
    assert any("INSECURE" in r.getMessage() and "hrpyc.ThreadedServer" in r.getMessage() for r in caplog.records)


def test_close_on_what_start_server_returned_stops_it():
    server = hrpyc.start_server(port=0)
    port = server.address[1]
    server.close()
    assert not server.is_alive() and hrpyc.running_server() is None
    hrpyc.start_server(port=port).close()  # the port is free again at once


def test_execute_in_main_thread_with_result_from_a_request_on_the_main_thread_runs_at_once(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address, timeout=5)
    code = (
        "import __main__, hdefereval, threading\n"
        "def where(x):\n"
        "    return x, threading.current_thread().name\n"
        "result = (threading.current_thread().name, hdefereval.executeInMainThreadWithResult(where, 21),\n"
        "          hdefereval.execute_in_main_thread_with_result(where, x=22),\n"
        "          hdefereval.executeInMainThreadWithResult('20 + 3'),\n"
        "          __main__.taken_early(where, 24))\n"
    )
    assert hrpyc.run(conn, code) == ("MainThread", (21, "MainThread"), (22, "MainThread"), 23, (24, "MainThread"))
    conn.close()


def test_stopping_from_a_request_on_the_main_thread_is_prompt_and_keeps_its_hdefereval(gui_houdini):
    """The request that stops the server runs to its end, hdefereval still adapted, with no 2 s wait for
    the connection that waits for it; stopping drops that connection too, so it reports in Houdini's console."""
    conn = hrpyc.connect(*gui_houdini.address, timeout=5)
    code = (
        "import hdefereval, hrpyc, time\n"
        "started = time.monotonic()\n"
        "hrpyc.stop_server()\n"
        "took = time.monotonic() - started\n"
        "print('stopped in {:.2f} s, then {}'.format(took, hdefereval.executeInMainThreadWithResult(lambda: 'ran')))\n"
    )
    with pytest.raises((EOFError, ConnectionError)):
        hrpyc.run(conn, code)
    gui_houdini.tell("quit")
    out = gui_houdini.finish()
    took = float(out.split("stopped in ", 1)[1].split(" s,", 1)[0])
    assert took < 1.0 and "then ran" in out and "hdefereval as Houdini made it: True" in out


def test_other_threads_still_wait_for_houdinis_main_thread_and_stopping_restores_hdefereval(gui_houdini):
    conn = hrpyc.connect(*gui_houdini.address, timeout=5)
    start = (
        "import hdefereval, threading, builtins\n"
        "def ask():\n"
        "    builtins.answer = hdefereval.executeInMainThreadWithResult(lambda: threading.current_thread().name)\n"
        "builtins.asker = threading.Thread(target=ask)\n"
        "builtins.asker.start()\n"
    )
    hrpyc.run(conn, start)  # the main thread is busy with this request: the asker must wait for it
    wait_for(lambda: hrpyc.run(conn, "import builtins\nresult = not builtins.asker.is_alive()"), what="the asker")
    assert hrpyc.run(conn, "import builtins\nresult = builtins.answer") == "MainThread"
    conn.close()
    gui_houdini.tell("stop")
    gui_houdini.tell("quit")
    out = gui_houdini.finish()
    assert "hdefereval as Houdini made it: True" in out


def _hython_blocking(**env):
    return ServerProcess(session="hython_blocking.py", **env)


def test_use_thread_false_runs_every_request_on_the_calling_thread_one_at_a_time():
    server = _hython_blocking()
    try:
        conn, hou = hrpyc.import_remote_module(*server.address)
        assert conn.server_info["dispatch"] == "caller"
        hou.node("/obj/sphere1").parm("scale").set(3.0)
        assert {thread for _, thread in list(hou.standin_calls)} == {"MainThread"}
        busy = hrpyc.connect(*server.address, timeout=30)
        sleeper = threading.Thread(target=busy.modules.time.sleep, args=(2,), daemon=True)
        sleeper.start()
        wait_for(lambda: conn.server_info and float(dict(conn.root.hrpyc_info())["busy_for"]) > 0, what="busy")
        impatient = hrpyc.connect(*server.address, timeout=0.5)
        with pytest.raises(hrpyc.HoudiniBusyError):
            impatient.modules.os.getpid()
        sleeper.join(10)
        assert conn.modules.os.getpid() > 0
        for client in (conn, busy, impatient):
            client.close()
    finally:
        server.close()


def test_use_thread_false_stops_cleanly_on_ctrl_c():
    server = _hython_blocking()
    conn = hrpyc.connect(*server.address)
    assert conn.modules.os.getpid() > 0
    code, out, err = server.interrupt()
    assert code == 0 and "stopped" in out and "Traceback" not in err, err
    conn.close()


def test_use_thread_true_in_hython_keeps_connection_threads(server_process):
    """Today's behaviour, side by side with use_thread=False: requests on connection threads."""
    conn, hou = hrpyc.import_remote_module(*server_process.address)
    hou.node("/obj/sphere1").parm("scale").eval()
    assert "MainThread" not in {thread for _, thread in list(hou.standin_calls)}
    assert conn.server_info["dispatch"] == "thread"
    conn.close()
