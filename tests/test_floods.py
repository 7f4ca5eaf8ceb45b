"""Nothing a peer sends before (or instead of) authenticating stops, starves or bloats the server:
bursts past the open-file limit, drips, zlib bombs, handshake bursts, floods of refusals."""

import logging
import os
import socket
import struct
import sys
import threading
import time
import zlib

import pytest
from conftest import ServerProcess, memory_mb, needs_process_stats, wait_for

import hrpyc
import hrpyc.auth
import hrpyc.lane
import hrpyc.refusals

SECRET = "flood-secret"


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="runs out of RLIMIT_NOFILE: Windows has no such limit to reach"
)
def test_a_burst_past_the_open_file_limit_only_delays_the_server(monkeypatch):
    server = ServerProcess("48", session="few_descriptors.py", HRPYC_AUTH_TIMEOUT="1")
    silent = []
    try:
        for _ in range(80):  # more than the server may have open: its accept() meets EMFILE
            try:
                silent.append(socket.create_connection(server.address, timeout=2))
            except OSError:
                break
        wait_for(lambda: server.proc.poll() is None and _open_files(server.proc.pid) >= 40, what="the burst")
        for sock in silent:
            sock.close()
        conn = None
        deadline = time.monotonic() + 15
        while conn is None:  # the server accepts again once descriptors free up
            try:
                conn = hrpyc.connect(*server.address, timeout=5)
            except hrpyc.HrpycError:
                if time.monotonic() > deadline:
                    raise
        assert conn.modules.os.getpid() == server.proc.pid
        conn.close()
        assert server.proc.poll() is None
    finally:
        for sock in silent:
            sock.close()
        server.close()


def _open_files(pid):
    return len(os.listdir("/proc/{}/fd".format(pid)))


def test_a_drip_is_cut_at_the_deadline_of_the_whole_exchange(monkeypatch):
    monkeypatch.setenv("HRPYC_AUTH_TIMEOUT", "1")
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET).start()
    try:
        with socket.create_connection(server.address, timeout=5) as sock:
            # a byte every 0.1 s: each read is quick, the whole challenge (3.8 s) is not
            assert _cut_within(sock, 3.0, hrpyc.auth.MAGIC + bytes(hrpyc.auth.NONCE))
    finally:
        server.stop()


@needs_process_stats
def test_a_zlib_bomb_drops_its_client_without_inflating_the_server(server_process):
    """512 MB of zeros in a 0.5 MB compressed frame: the server inflates at most 256 MB of it."""
    deflate, parts = zlib.compressobj(1), []
    chunk = bytes(1 << 20)
    for _ in range(512):
        parts.append(deflate.compress(chunk))
    parts.append(deflate.flush())
    bomb = b"".join(parts)
    conn = hrpyc.connect(*server_process.address)  # an admitted client of the server's own user
    with socket.create_connection(server_process.address, timeout=10) as sock:
        sock.sendall(struct.pack("!LB", len(bomb), 1) + bomb + b"\n")
        sock.settimeout(10)
        try:
            assert sock.recv(1) == b""  # dropped
        except OSError:
            pass
    assert conn.modules.os.getpid() == server_process.proc.pid  # the others carry on
    peak_mb = memory_mb(server_process.proc.pid)[1]
    assert peak_mb < 400, peak_mb
    conn.close()


def test_the_client_limit_holds_under_a_burst_of_handshakes():
    server = hrpyc.Server("127.0.0.1", 0, max_clients=2).start()
    most, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            most[0] = max(most[0], len(server.clients()))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    kept, lock = [], threading.Lock()

    def connect():
        try:
            conn = hrpyc.connect(*server.address, timeout=5)
            conn.modules.os.getpid()
            with lock:
                kept.append(conn)
        except (hrpyc.HrpycError, EOFError, OSError):
            pass  # refused: the limit

    burst = [threading.Thread(target=connect) for _ in range(16)]
    for thread in burst:
        thread.start()
    for thread in burst:
        thread.join(15)
    stop.set()
    watcher.join(5)
    try:
        assert 1 <= len(kept) and most[0] <= 2
    finally:
        for conn in kept:
            conn.close()
        server.stop()


def _refusals_logged(caplog):
    """How many refusals the log accounts for: one per single line, N per 'refused N more' summary."""
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    return sum(int(line.split("refused ")[1].split(" more")[0]) if " more " in line else 1 for line in lines)


def test_a_flood_of_refusals_is_summed_up_in_the_log_not_printed_one_by_one(monkeypatch, caplog):
    monkeypatch.setattr(hrpyc.refusals.RefusalLog, "WINDOW", 0.5)
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET).start()
    try:
        with caplog.at_level(logging.WARNING, logger="hrpyc"):
            for _ in range(60):  # stock clients without the token: each refused
                with socket.create_connection(server.address, timeout=5) as sock:
                    sock.sendall(struct.pack("!LB", 1, 0) + b"x\n")
                    try:
                        sock.recv(1)
                    except OSError:
                        pass
            # Each window's refusals are summed up when it ends: a slow run (Wine) spreads them over several.
            wait_for(lambda: _refusals_logged(caplog) == 60, what="the summaries of all 60 refusals")
        lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(lines) <= 6 and any(" more connections" in line for line in lines), lines
        assert "no token" in caplog.text and "127.0.0.1" in caplog.text
    finally:
        server.stop()


def _cut_within(sock, seconds, drip):
    """Send `drip` a byte every 0.1 s; True when the server cuts the socket within `seconds`."""
    started = time.monotonic()
    sock.settimeout(0.1)
    for byte in drip:
        if time.monotonic() - started > seconds:
            return False
        try:
            sock.sendall(bytes([byte]))
            if sock.recv(1) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def test_a_bulk_lane_upload_that_drips_is_cut_at_the_deadline_of_the_transfer(monkeypatch):
    monkeypatch.setattr(hrpyc.lane, "STALL", 0.5)
    server = hrpyc.Server("127.0.0.1", 0).start()
    try:
        conn = hrpyc.connect(*server.address)
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(hrpyc.lane.MAGIC + conn.lane_key + b"p" + struct.pack(">Q", 1000))
            assert _cut_within(sock, 3.0, bytes(1000))
        assert conn.modules.os.getpid() == os.getpid()
        conn.close()
    finally:
        server.stop()
