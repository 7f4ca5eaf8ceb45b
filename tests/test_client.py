"""What a pipeline script in Maya or Nuke relies on when it connects to Houdini."""

import gc
import socket
import threading
import time

import pytest
import rpyc
from conftest import free_port, wait_for
from rpyc.utils.server import ThreadedServer

import hrpyc


def test_import_remote_module_drives_hou_as_if_local(remote):
    _, hou = remote
    hou.node("/obj/sphere1").parm("scale").set(2.0)
    assert hou.node("/obj/sphere1").parm("scale").eval() == 2.0
    assert hou.applicationVersionString() == "19.0.720"


def test_proxies_compare_and_hash_like_the_hou_objects_they_stand_for(remote):
    _, hou = remote
    first, again, other = hou.node("/obj/sphere1"), hou.node("/obj/sphere1"), hou.node("/obj")
    assert first == again
    assert first != other
    assert hash(first) == hash(again)
    assert again in [other, first]
    assert again in {first: 1}


def test_nobody_listening_raises_server_not_found_with_how_to_start_one():
    port = free_port()
    with pytest.raises(hrpyc.ServerNotFoundError) as caught:
        hrpyc.import_remote_module(port=port)
    message = str(caught.value)
    assert isinstance(caught.value, ConnectionError)
    assert "no hrpyc server at 127.0.0.1:{}".format(port) in message
    assert "hrpyc.start_server()" in message and "\n" not in message


def test_a_host_that_does_not_answer_fails_within_seconds():
    # A listener whose accept queue is full drops new SYNs, as an unreachable host would.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = []
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        started = time.monotonic()
        with pytest.raises(hrpyc.ServerNotFoundError) as caught:
            hrpyc.connect(*listener.getsockname(), timeout=1)
        elapsed = time.monotonic() - started
        for filler in fillers:
            filler.close()
    assert elapsed < 4
    assert "no answer within 1 s" in str(caught.value)


def test_something_that_is_not_rpyc_raises_protocol_error():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer_like_a_web_server():
            peer, _ = listener.accept()
            peer.recv(100)
            peer.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            peer.close()

        threading.Thread(target=answer_like_a_web_server, daemon=True).start()
        with pytest.raises(hrpyc.ProtocolError) as caught:
            hrpyc.connect(*listener.getsockname())
    assert "did not answer as an rpyc server" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_server_without_the_module_says_so_and_suggests_houdini(local_server):
    with pytest.raises(hrpyc.RemoteImportError) as caught:
        hrpyc.import_remote_module(*local_server.address, name="hou_not_here")
    assert isinstance(caught.value, ImportError)
    assert "'hou_not_here'" in str(caught.value) and "\n" not in str(caught.value)


def test_missing_hou_suggests_a_houdini_or_hython_session(local_server, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "hou", None)  # this process has no hou, whatever sys.path holds
    with pytest.raises(hrpyc.RemoteImportError) as caught:
        hrpyc.import_remote_module(*local_server.address)
    assert "hou" in str(caught.value) and "hython" in str(caught.value)
    assert "`hrpyc serve --demo`" in str(caught.value)  # to try hrpyc without a Houdini


def test_import_remote_module_takes_a_port_a_host_or_host_port(server_process):
    host, port = server_process.address
    pid = server_process.proc.pid
    for server in (port, "{}:{}".format(host, port), "localhost:{}".format(port), " :{} ".format(port)):
        conn, os_module = hrpyc.import_remote_module(server, name="os")
        assert os_module.getpid() == pid and conn.address.endswith(":{}".format(port)), server
        conn.close()
    conn, os_module = hrpyc.import_remote_module(host, port, "os")
    assert os_module.getpid() == pid
    conn.close()
    conn, os_module = hrpyc.import_remote_module("localhost", name="os")  # a host: this user's only session there
    assert os_module.getpid() == pid
    conn.close()
    with pytest.raises(ValueError, match="give the port once"):
        hrpyc.connect("localhost:{}".format(port), port + 1)
    for bad in (70000, True, 1.5):
        with pytest.raises(ValueError):
            hrpyc.connect(bad)
    with pytest.raises(hrpyc.ServerNotFoundError, match="check the host name"):
        hrpyc.connect("localhost:http")


def test_an_unknown_host_says_check_the_host_name():
    with pytest.raises(hrpyc.ServerNotFoundError) as caught:
        hrpyc.connect("no-such-host.invalid", 18811)
    message = str(caught.value)
    assert message.endswith("; check the host name") and "start_server" not in message


def test_a_request_that_runs_out_of_time_names_the_setting_to_raise(remote):
    conn, _ = remote
    slow = hrpyc.connect(*conn._channel.stream.sock.getpeername()[:2], timeout=0.3)
    with pytest.raises(hrpyc.RequestTimeoutError) as caught:
        slow.modules.time.sleep(2)
    message = str(caught.value)
    assert isinstance(caught.value, TimeoutError)
    assert "0.3 s" in message and "HRPYC_TIMEOUT" in message and "timeout=" in message
    assert "\n" not in message


def test_hrpyc_timeout_sets_the_default_and_zero_waits_forever(local_server, monkeypatch):
    monkeypatch.setenv("HRPYC_TIMEOUT", "0.2")
    with pytest.raises(hrpyc.RequestTimeoutError):
        hrpyc.connect(*local_server.address).modules.time.sleep(1)
    patient = hrpyc.connect(*local_server.address, timeout=0)
    patient.modules.time.sleep(0.5)  # longer than HRPYC_TIMEOUT: the argument wins
    monkeypatch.setenv("HRPYC_TIMEOUT", "0")
    hrpyc.connect(*local_server.address).modules.time.sleep(0.3)


def test_a_bad_hrpyc_timeout_is_a_one_line_config_error(monkeypatch):
    monkeypatch.setenv("HRPYC_TIMEOUT", "soon")
    with pytest.raises(hrpyc.ConfigError) as caught:
        hrpyc.connect(port=free_port())
    assert "HRPYC_TIMEOUT='soon'" in str(caught.value) and "0 to wait forever" in str(caught.value)


@pytest.mark.parametrize("bad", [-1, "10", float("nan")])
def test_a_bad_timeout_argument_is_refused(bad):
    with pytest.raises(ValueError):
        hrpyc.connect(port=free_port(), timeout=bad)


def test_the_connection_closes_when_garbage_collected(local_server):
    conn, os_module = hrpyc.import_remote_module(*local_server.address, name="os")
    wait_for(lambda: len(local_server.clients()) == 1, what="client")
    del conn, os_module
    gc.collect()
    wait_for(lambda: local_server.clients() == [], what="collected connection to close")


def test_the_connection_closes_at_the_end_of_a_with_block(local_server):
    with hrpyc.connect(*local_server.address) as conn:
        assert conn.modules.os.getpid() > 0
    wait_for(lambda: local_server.clients() == [], what="connection to close")


def test_the_server_cannot_reach_into_our_client():
    """Whoever owns the port must not own the client: a hostile classic server tries our modules."""
    attempts = []

    class Hostile(rpyc.ClassicService):
        def on_connect(self, conn):
            super().on_connect(conn)
            attempts.append(conn.modules["os"])
            try:
                conn.eval("1")
            except TypeError:
                attempts.append("no eval")

    server = ThreadedServer(Hostile, hostname="127.0.0.1", port=0, protocol_config={})

    threading.Thread(target=server.start, daemon=True).start()
    wait_for(lambda: server.active, what="stock server to listen")
    try:
        conn = hrpyc.connect("127.0.0.1", server.port)
        # rpyc < 5 makes its attempt after we connected: serve it, as our next request would.
        wait_for(lambda: conn.poll_all(0.01) or len(attempts) == 2, what="the server's attempt")
        assert attempts == [None, "no eval"]  # our side serves no modules and runs no code
        assert conn.modules.os.getpid() > 0  # while we still drive the server
        conn.close()
        # rpyc's own server raises in its connection thread when close() pulls a socket it still serves
        wait_for(lambda: not server.clients, what="the stock server to see us leave")
    finally:
        server.close()
