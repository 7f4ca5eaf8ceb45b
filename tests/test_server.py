"""The server a TD starts in Houdini: binding, one per process, stopping, clients, events, sockets."""

import gc
import logging
import os
import socket
import subprocess
import sys
import threading

import pytest
import rpyc
from conftest import child_env, free_port, wait_for
from rpyc.core.channel import Channel

import hrpyc


def test_start_server_binds_loopback_and_reports_the_port_actually_bound():
    server = hrpyc.start_server(port=0)
    assert isinstance(server, hrpyc.Server)
    host, port = server.address
    assert host == "127.0.0.1" and port > 0
    assert server.is_alive()
    assert hrpyc.running_server() is server
    with socket.create_connection(server.address, timeout=2):
        pass


def test_start_server_keeps_sidefx_positional_signature():
    server = hrpyc.start_server(0, True, True)
    assert server.is_alive()


def test_taken_port_raises_port_in_use_error_at_once_with_the_fix():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with pytest.raises(hrpyc.PortInUseError) as caught:
            hrpyc.start_server(port=port)
    error = caught.value
    assert isinstance(error, OSError) and isinstance(error, hrpyc.HrpycError)
    message = str(error)
    assert "\n" not in message
    assert "127.0.0.1:{}".format(port) in message
    assert "port=0" in message
    assert hrpyc.running_server() is None


def test_an_address_not_on_this_machine_raises_bind_error():
    with pytest.raises(hrpyc.BindError) as caught:
        hrpyc.Server("no-such-host.invalid", 0, token="a-secret")
    assert "no-such-host.invalid" in str(caught.value)


def test_start_server_again_on_the_same_address_returns_the_running_server():
    first = hrpyc.start_server(port=0)
    port = first.address[1]
    assert hrpyc.start_server(port=port) is first
    assert hrpyc.start_server(port=port, host="localhost") is first


def test_start_server_on_another_address_names_the_running_one():
    first = hrpyc.start_server(port=0)
    with pytest.raises(hrpyc.ServerAlreadyRunningError) as caught:
        hrpyc.start_server(port=free_port())
    assert "127.0.0.1:{}".format(first.address[1]) in str(caught.value)
    assert "stop_server" in str(caught.value)


def test_stop_frees_the_port_for_an_immediate_restart_and_twice_is_harmless():
    server = hrpyc.start_server(port=0)
    port = server.address[1]
    conn = hrpyc.connect(port=port)
    hrpyc.stop_server()
    hrpyc.stop_server()
    server.stop()
    assert not server.is_alive()
    assert hrpyc.running_server() is None
    again = hrpyc.start_server(port=port)
    assert again is not server and again.address[1] == port
    conn2 = hrpyc.connect(port=port)
    assert conn2.modules.os.getpid() > 0
    with pytest.raises(EOFError):
        conn.modules.os.getpid()  # the old client was dropped


def test_running_server_forgets_a_server_stopped_directly():
    server = hrpyc.start_server(port=0)
    server.stop()
    assert hrpyc.running_server() is None


def test_use_thread_false_serves_in_the_caller_until_stopped():
    port = free_port()
    returned = []
    caller = threading.Thread(target=lambda: returned.append(hrpyc.start_server(port, use_thread=False)))
    caller.start()
    wait_for(lambda: hrpyc.running_server() is not None, what="server to start")
    assert hrpyc.connect(port=port).modules.os.getpid() > 0
    assert caller.is_alive()
    hrpyc.stop_server()
    caller.join(5)
    assert not caller.is_alive()
    assert returned and not returned[0].is_alive()


def test_join_waits_until_the_server_stops(local_server):
    local_server.join(0.05)
    assert local_server.is_alive()
    threading.Timer(0.1, local_server.stop).start()
    local_server.join(5)
    assert not local_server.is_alive()


def test_clients_lists_each_client_with_its_request_count(local_server):
    assert local_server.clients() == []
    conn = hrpyc.connect(*local_server.address)
    wait_for(lambda: len(local_server.clients()) == 1, what="client to appear")
    before = local_server.clients()[0]
    for _ in range(5):
        conn.modules.os.getpid()
    after = local_server.clients()[0]
    assert isinstance(after, hrpyc.ClientInfo)
    assert after.id == before.id
    assert after.address == conn._channel.stream.sock.getsockname()[:2]
    assert after.requests >= before.requests + 5
    assert after.last_request_at is not None and after.last_request_at >= after.connected_at
    conn.close()
    wait_for(lambda: local_server.clients() == [], what="client to leave")


def test_disconnect_drops_one_client_and_keeps_the_others(local_server):
    first = hrpyc.connect(*local_server.address)
    second = hrpyc.connect(*local_server.address)
    wait_for(lambda: len(local_server.clients()) == 2, what="two clients")
    target = local_server.clients()[0].id
    assert local_server.disconnect(target) is True
    wait_for(lambda: [c.id for c in local_server.clients()] == [target + 1], what="one client left")
    with pytest.raises(EOFError):
        first.modules.os.getpid()
    assert second.modules.os.getpid() > 0
    assert local_server.disconnect(target) is False


def test_events_announce_start_connect_disconnect_and_stop():
    seen = []
    hrpyc.subscribe(seen.append)
    try:
        server = hrpyc.Server("127.0.0.1", 0).start()
        conn = hrpyc.connect(*server.address)
        wait_for(lambda: any(e.kind == "connected" for e in seen), what="connected event")
        conn.close()
        wait_for(lambda: any(e.kind == "disconnected" for e in seen), what="disconnected event")
        server.stop()
    finally:
        hrpyc.unsubscribe(seen.append)
    mine = [e for e in seen if e.server == server.address]
    assert [e.kind for e in mine] == ["started", "connected", "disconnected", "stopped"]
    assert mine[1].client.address == mine[2].client.address
    assert all(isinstance(e, hrpyc.ServerEvent) and e.time > 0 for e in mine)


def test_a_listener_runs_outside_the_server_lock_and_a_failing_one_harms_nothing(local_server):
    answered = []

    def listener(event):
        if event.kind == "connected":
            # Another thread asks the server for its clients while we are inside the listener:
            # it would wait forever if listeners ran under the server's lock.
            asker = threading.Thread(target=lambda: answered.append(local_server.clients()))
            asker.start()
            asker.join(5)

    def broken(event):
        raise RuntimeError("listener bug")

    hrpyc.subscribe(broken)
    hrpyc.subscribe(listener)
    try:
        conn = hrpyc.connect(*local_server.address)
        wait_for(lambda: answered, what="listener to finish")
        assert conn.modules.os.getpid() > 0
    finally:
        hrpyc.unsubscribe(listener)
        hrpyc.unsubscribe(broken)
    assert len(answered[0]) == 1


def test_stock_rpyc_classic_client_drives_the_server(server_process):
    conn = rpyc.classic.connect(server_process.host, server_process.port)
    hou = conn.modules["hou"]
    hou.node("/obj/sphere1").parm("scale").set(3.0)
    assert hou.node("/obj/sphere1").parm("scale").eval() == 3.0
    conn.close()


def test_sidefx_style_client_with_sync_calls_works(server_process):
    """SideFX's import_remote_module: classic connect, each hou call bracketed by sync calls."""
    conn = rpyc.classic.connect(server_process.host, server_process.port)
    hou = conn.modules["hou"]
    hou._syncFromMainContext()
    hou.setFrame(12)
    hou._syncToMainContext()
    hou._syncFromMainContext()
    assert hou.frame() == 12
    hou._syncToMainContext()
    conn.close()


def test_houdini_time_is_kept_in_sync_around_requests_without_client_wrappers(server_process):
    """Each connection runs on its own thread; Houdini's time is per thread, so it only agrees
    across clients when the server syncs with the main thread around each request."""
    _conn_a, hou_a = hrpyc.import_remote_module(server_process.host, server_process.port)
    _conn_b, hou_b = hrpyc.import_remote_module(server_process.host, server_process.port)
    hou_a.setFrame(42)
    assert hou_b.frame() == 42
    hou_b.setFrame(7)
    assert hou_a.frame() == 7


def test_accepted_sockets_have_nodelay_and_loopback_clients_no_compression(remote):
    conn, _ = remote
    conn.execute(
        "import gc, socket\n"
        "from rpyc.core.channel import Channel\n"
        "live = [s for s in gc.get_objects() if isinstance(s, socket.socket) and s.fileno() >= 0]\n"
        "accepted = [s for s in live if not s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)]\n"
        "nodelay = [s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in accepted]\n"
        "compress = [c.compress for c in gc.get_objects() if issubclass(type(c), Channel)]\n"
    )
    nodelay = list(conn.namespace["nodelay"])
    assert nodelay and all(nodelay)
    assert list(conn.namespace["compress"]) == [False]


def test_compression_can_be_forced_on():
    server = hrpyc.Server("127.0.0.1", 0, compress=True).start()
    try:
        conn = hrpyc.connect(*server.address)
        wait_for(lambda: server.clients(), what="client")
        assert _server_side_compression(server.address[1]) == [True]
        conn.close()
    finally:
        server.stop()


def _server_side_compression(port):
    """The compress flag of each live rpyc channel accepted on `port` in this process."""
    flags = []
    for obj in gc.get_objects():
        if issubclass(type(obj), Channel):  # type(): no remote call for proxies lying around
            try:
                if obj.stream.sock.getsockname()[1] == port:
                    flags.append(obj.compress)
            except (EOFError, OSError):  # a closed stream or socket
                continue
    return flags


def test_a_child_process_does_not_keep_the_listening_port(tmp_path):
    done = tmp_path / "done"  # the child lives until the test is done: ended by itself, never by its pid
    lives = "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.1)\n"
    script = (  # the child inherits every inheritable descriptor (on Windows, our output pipe too)
        "import subprocess, sys, hrpyc\n"
        "server = hrpyc.start_server(port=0)\n"
        "child = subprocess.Popen([sys.executable, '-c', {!r}, {!r}], close_fds=False,\n"
        "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(server.address[1], flush=True)\n"
        "hrpyc.stop_server()\n"
    ).format(lives, str(done))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=child_env(), text=True)
    port = int(proc.stdout.readline())
    try:
        assert proc.wait(timeout=60) == 0  # stopped: only its child lives on
        with socket.socket() as probe:
            if os.name == "posix":  # Windows' SO_REUSEADDR would bind over a socket still listening
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))  # the child, still alive, does not hold the port
            probe.listen(1)
    finally:
        done.touch()
        proc.stdout.close()


def test_binding_beyond_loopback_with_no_credential_is_refused_in_one_line():
    with pytest.raises(hrpyc.InsecureBindError) as caught:
        hrpyc.start_server(port=0, host="0.0.0.0")
    message = str(caught.value)
    assert "0.0.0.0:0" in message and "token" in message and "allow_insecure" in message
    assert "\n" not in message
    assert hrpyc.running_server() is None


def test_allowing_insecure_exposure_warns_loudly(caplog, monkeypatch):
    monkeypatch.setenv("HRPYC_ALLOW_INSECURE", "1")
    with caplog.at_level(logging.WARNING, logger="hrpyc"):
        server = hrpyc.Server("0.0.0.0", 0)
    assert server.exposed and server.credential == "none"
    server.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "INSECURE" in warnings[0]
    assert "anyone who can reach this port can run code" in warnings[0]


def test_loopback_bind_does_not_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="hrpyc"):
        hrpyc.Server("127.0.0.1", 0).stop()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_garbage_from_one_client_does_not_hurt_the_server(local_server):
    good = hrpyc.connect(*local_server.address)
    with socket.create_connection(local_server.address) as bad:
        bad.sendall(b"\x00\x00\x00\x10\x00" + b"not an rpyc frame" * 4)
        bad.settimeout(5)
        while bad.recv(4096):  # rpyc may say goodbye first; then the server hangs up
            pass
    assert good.modules.os.getpid() > 0
    assert local_server.is_alive()


def test_quiet_false_shows_clients_coming_and_going():
    script = (
        "import hrpyc\n"
        "server = hrpyc.start_server(port=0, quiet=False)\n"
        "hrpyc.connect(*server.address).close()\n"
        "hrpyc.stop_server()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=child_env(), stderr=subprocess.PIPE, text=True, timeout=30
    )
    assert "listening on 127.0.0.1:" in result.stderr
    assert "connected" in result.stderr
    assert "stopped" in result.stderr
