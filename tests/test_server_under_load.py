"""The server under traffic: Houdini's time agrees across clients request after request, and stopping
while connections pour in is silent in every thread."""

import logging
import re
import socket
import threading

import rpyc
from conftest import ServerProcess, wait_for

import hrpyc

ROUNDS = 200


def test_every_client_sees_the_frame_the_previous_request_set():
    """Requests of a hython-like server run on connection threads, each with its own Houdini time; the
    server copies it back to the main context before answering, so the next request, from any client
    (ours or a stock one), reads the frame just set - even when the copy takes a while."""
    server = ServerProcess(HOU_STANDIN_SYNC_SECONDS="0.001")
    conn_a, hou_a = hrpyc.import_remote_module(server.host, server.port)
    conn_b = rpyc.classic.connect(server.host, server.port)
    hou_b = conn_b.modules["hou"]
    try:
        for round_ in range(ROUNDS):
            hou_a.setFrame(round_)
            assert hou_b.frame() == round_
            hou_b.setFrame(round_ + 0.5)
            assert hou_a.frame() == round_ + 0.5
    finally:
        conn_a.close()
        conn_b.close()
        server.close()


def _stream_of_connects(address, stop, accepted):
    """Connect, say nothing or a little, and hang up, until `stop` is set."""
    sent = 0
    while not stop.is_set():
        try:
            with socket.create_connection(address, timeout=1) as sock:
                accepted.set()
                if sent % 2:
                    sock.sendall(b"\x00" * 8)
                sent += 1
        except OSError:
            pass  # refused once the listener is closed, or reset: what the stream does not care about


def test_stopping_while_connections_are_accepted_is_silent_in_every_thread(monkeypatch, capfd, caplog):
    """rpyc 4.1.0 asks a socket that stop() has just closed for its peer's address; in Houdini that
    printed an "Exception in thread" traceback in the console."""
    failures = []
    monkeypatch.setattr(threading, "excepthook", failures.append, raising=False)  # Python 3.7 prints instead
    caplog.set_level(logging.INFO)
    for _ in range(30):
        server = hrpyc.Server("127.0.0.1", 0).start()
        stop, accepted = threading.Event(), threading.Event()
        streams = [
            threading.Thread(target=_stream_of_connects, args=(server.address, stop, accepted), daemon=True)
            for _ in range(4)
        ]
        for stream in streams:
            stream.start()
        assert accepted.wait(5), "no connection reached the server"
        server.stop()
        stop.set()
        for stream in streams:
            stream.join(5)
        assert not server.is_alive()
    wait_for(lambda: not any(t.name.startswith("hrpyc-accept") for t in threading.enumerate()), what="accept loops")
    assert failures == []
    # A client that said something and hung up before the server asked who it was is refused, as it
    # should be ("cannot tell which user connected"): that is a refusal, not noise from the stop.
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [w for w in warnings if not re.match(r"hrpyc: refused .*cannot tell which user connected", w)] == []
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Exception" not in out + err
