"""Nothing a peer sends before (or instead of) authenticating stops, starves or bloats the server:
bursts past the open-file limit, drips, zlib bombs, handshake bursts, floods of refusals."""

import logging
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

import pytest
import rpyc
from certs import make_authority
from conftest import (
    UNDER_WINE,
    ServerProcess,
    asked_peak_mb,
    child_env,
    memory_mb,
    needs_process_stats,
    unavailable,
    wait_for,
)

import hrpyc
import hrpyc._auth.proof
import hrpyc._server.refusals
import hrpyc._wire.lane

SECRET = "flood-secret"


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="runs out of RLIMIT_NOFILE: Windows has no such limit to reach"
)
def test_a_burst_past_the_open_file_limit_only_delays_the_server(monkeypatch):
    server = ServerProcess("48", session="few_descriptors.py", HRPYC_AUTH_TIMEOUT="1")
    silent = []
    try:
        for n in range(80):  # more than the server may have open: its accept() meets EMFILE
            try:  # from 80 addresses: one may hold only Admission.PER_SOURCE places
                silent.append(_connect_from("127.0.0.{}".format(2 + n), server.address))
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
            assert _cut_within(sock, 3.0, hrpyc._auth.proof.MAGIC + bytes(hrpyc._auth.proof.NONCE))
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


def test_a_flood_of_refusals_is_summed_up_in_the_log_and_the_events_not_told_one_by_one(monkeypatch, caplog):
    monkeypatch.setattr(hrpyc._server.refusals.RefusalLog, "WINDOW", 0.5)
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET).start()
    events = []
    hrpyc.subscribe(events.append)  # what the panel's event log hears (an attack once posted 87,275)
    refused = lambda: [e for e in events if e.kind == "refused"]  # noqa: E731
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING, logger="hrpyc"):
            for _ in range(60):  # stock clients without the token: each refused
                with socket.create_connection(server.address, timeout=5) as sock:
                    sock.sendall(struct.pack("!LB", 1, 0) + b"x\n")
                    try:
                        sock.recv(1)
                    except OSError:
                        pass
            wait_for(lambda: sum(e.count for e in refused()) == 60, what="the summaries")
        lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert 2 <= len(lines) <= 2 * (1 + (time.monotonic() - started) / 0.5), lines  # twice a window at most
        total = sum(int(line.split("refused ")[1].split(" more")[0]) for line in lines if " more " in line)
        assert total + len([line for line in lines if " more " not in line]) == 60
        assert "no token" in caplog.text and "127.0.0.1" in caplog.text
        assert [e.message for e in refused()] == [line.split("refused ", 1)[1] for line in lines]
    finally:
        hrpyc.unsubscribe(events.append)
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
    monkeypatch.setattr(hrpyc._wire.lane, "STALL", 0.5)
    server = hrpyc.Server("127.0.0.1", 0).start()
    try:
        conn = hrpyc.connect(*server.address)
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(hrpyc._wire.lane.MAGIC + conn.lane_key + b"p" + struct.pack(">Q", 1000))
            assert _cut_within(sock, 3.0, bytes(1000))
        assert conn.modules.os.getpid() == os.getpid()
        conn.close()
    finally:
        server.stop()


def _connect_from(host, address):
    """A socket connected to `address` from `host` (127.0.0.x: Linux and Windows answer on all of 127/8)."""
    sock = socket.socket()
    try:
        sock.bind((host, 0))
        sock.settimeout(2)
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


# An attacker's flood, in a process of its own (as an attacker's is): silent sockets opened `rate` a
# second, in turn from each of `hosts`, each kept open (the newest 400); it prints how many it has opened.
FLOOD = """
import collections, socket, sys, time
host, port, rate, hosts = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(",")
held, opened, started = collections.deque(), 0, time.monotonic()
while True:
    time.sleep(max(0.0, started + opened / rate - time.monotonic()))
    sock = socket.socket()
    try:
        sock.bind((hosts[opened % len(hosts)], 0))
        sock.settimeout(2)
        sock.connect((host, port))
        held.append(sock)
    except OSError:
        sock.close()
    opened += 1
    if len(held) > 400:
        held.popleft().close()
    print(opened, flush=True)
"""


class _Flood(object):
    """The FLOOD process while the block runs: never a byte on any socket, from another process than the
    server's and the clients' (in one process, its thread would compete with theirs for the GIL)."""

    def __init__(self, address, rate, hosts=("127.0.0.1",)):
        if sys.platform == "darwin" and len(hosts) > 1:
            unavailable("macOS answers only on 127.0.0.1")
        self.argv = [sys.executable, "-c", FLOOD, address[0], str(address[1]), str(rate), ",".join(hosts)]
        self.opened = 0

    def __enter__(self):
        self._proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        self._counter = threading.Thread(target=self._count, daemon=True)
        self._counter.start()
        return self

    def _count(self):
        for line in self._proc.stdout:
            self.opened = int(line)

    def __exit__(self, *exc):
        self._proc.kill()  # its sockets close with it
        self._proc.wait()
        self._counter.join(10)
        self._proc.stdout.close()


# Clients, one after another, in a process of their own (as a user's script is: not sharing the server's
# interpreter); it prints why each that did not connect and call was turned away, a line each, and stops
# once more than `allowed` were (each may wait out its 5 s).
CLIENTS = """
import sys, hrpyc
host, port, tries, allowed, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
turned_away = 0
for _ in range(tries):
    try:
        with hrpyc.connect(host, port, timeout=5, token=token) as conn:
            assert conn.modules.sys.platform == sys.platform
    except hrpyc.HrpycError as error:
        print(str(error), flush=True)
        turned_away += 1
        if turned_away > allowed:
            break
"""


def _turned_away(server, tries, allowed, token):
    """Why those of `tries` clients (CLIENTS) that did not get in were turned away."""
    argv = [sys.executable, "-c", CLIENTS, server.address[0], str(server.address[1]), str(tries), str(allowed), token]
    result = subprocess.run(argv, capture_output=True, text=True, env=child_env(), timeout=100 + 5 * tries)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.skipif(
    UNDER_WINE,
    reason="under Wine every socket call is a round trip through one wineserver, which the flood loads too",
)
@pytest.mark.parametrize("hosts", [1, 40], ids=["one address", "40 addresses"])
def test_legitimate_clients_get_in_during_a_flood_of_silent_sockets(hosts):
    """Issue 23: 26 silent sockets a second held every place of a token server, and 0 of 25 clients got
    in. Here 100 a second, from the clients' own address (and user) or from 40: the server keeps 16 silent
    sockets of one address, so a client has 0.16 s to say its first byte."""
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET, max_clients=16).start()  # 4 x 16 = 64 places
    try:
        with _Flood(server.address, 100, ["127.0.0.{}".format(1 + n) for n in range(hosts)]) as flood:
            wait_for(lambda: flood.opened >= 100, what="the flood to outnumber the places")
            turned_away = _turned_away(server, 25, 1, SECRET)
            assert len(turned_away) <= 1, turned_away
    finally:
        server.stop()


@pytest.mark.parametrize("credential", ["token", "none", "tls"])
def test_a_client_turned_away_by_a_busy_server_is_told_so_in_one_line(credential, tmp_path):
    """Sockets of this user (from this address) have begun and stall, as many as it may have
    authenticating (16): the next is told the server is busy, whatever it shows; a stock rpyc client is
    refused as before."""
    options, credentials = {}, {}
    if credential == "token":
        options = credentials = {"token": SECRET}
    elif credential == "tls":
        authority = make_authority(str(tmp_path))
        options = dict(zip(("certfile", "keyfile"), authority["server"]))
        credentials = {"cafile": authority["ca"]}
    server = hrpyc.Server("127.0.0.1", 0, **options).start()
    address = "127.0.0.1:{}".format(server.address[1])
    stalled = []

    def stall():
        stalled.append(socket.create_connection(server.address, timeout=5))
        stalled[-1].sendall(b"H" if credential != "tls" else b"\x16")  # a preamble's (or TLS's) first byte

    try:
        for _ in range(16):
            stall()
        with pytest.raises(hrpyc.TooManyClientsError) as caught:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # one got in before the server had heard them all: one more
                hrpyc.connect(*server.address, timeout=5, **credentials).close()
                stall()
        others = "other connections" if credential == "tls" else r"\d+ others"  # the 16 and those shed
        told = r"{} is busy authenticating {} \(a flood\?\); retry in a moment".format(re.escape(address), others)
        assert re.fullmatch(told, str(caught.value))
        if credential == "none":
            with pytest.raises((EOFError, OSError)):  # as when it was closed without a word
                rpyc.classic.connect(*server.address).modules.os.getpid()
    finally:
        for sock in stalled:
            sock.close()
        server.stop()


@needs_process_stats
def test_an_upload_that_declares_8_gb_and_drips_reserves_nothing_and_is_cut_at_the_stall_limit(monkeypatch):
    """The deadline grows only with bytes that arrive: declaring 8 GB once bought 8,192 s more."""
    monkeypatch.setattr(hrpyc._wire.lane, "STALL", 0.5)
    server = hrpyc.Server("127.0.0.1", 0).start()
    try:
        conn = hrpyc.connect(*server.address)
        peak = asked_peak_mb()
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(hrpyc._wire.lane.MAGIC + conn.lane_key + b"p" + struct.pack(">Q", 8 << 30))
            assert _cut_within(sock, 3.0, bytes(1000))
        assert asked_peak_mb() - peak < 1024  # the 8 GB were never asked of the system
        assert conn.modules.os.getpid() == os.getpid()
        conn.close()
    finally:
        server.stop()


@needs_process_stats
def test_uploads_declaring_4_gb_between_them_reserve_at_most_1_gb(monkeypatch):
    """Below 16 GiB an upload may be read straight into one buffer, taken before its bytes arrive: only
    while the uploads under way declare 1 GiB or less between them."""
    monkeypatch.setattr(hrpyc._wire.lane, "STALL", 1.0)
    server = hrpyc.Server("127.0.0.1", 0).start()
    owners = [hrpyc.connect(*server.address) for _ in range(2)]
    try:
        peak = asked_peak_mb()
        lanes = [_put(server.address, owner.lane_key, 512 << 20) for owner in owners for _ in range(4)]
        for sock in lanes:
            sock.settimeout(5)
            assert sock.recv(1) == b""  # cut at the deadline
        # 1 GiB, and the address space of the 8 threads that served them (stacks, malloc arenas: 0.6 GB)
        assert asked_peak_mb() - peak < 2560
    finally:
        for owner in owners:
            owner.close()
        server.stop()


def _put(address, key, size):
    """A lane socket that has asked to upload `size` bytes, its bytes not sent yet."""
    sock = socket.create_connection(address, timeout=5)
    sock.sendall(hrpyc._wire.lane.MAGIC + key + b"p" + struct.pack(">Q", size))
    return sock


def test_a_connection_has_four_bulk_transfers_at_once_and_the_next_is_refused_at_once(local_server):
    conn = hrpyc.connect(*local_server.address)
    lanes = [_put(local_server.address, conn.lane_key, 1 << 20) for _ in range(4 + 1)]
    try:
        readable, _, _ = select.select(lanes, [], [], 10)
        assert len(readable) == 1 and readable[0].recv(1) == hrpyc._wire.lane.BUSY  # one too many: told at once
        held = [sock for sock in lanes if sock is not readable[0]]
        for sock in held:  # the others were waiting for their bytes, and take them
            sock.sendall(bytes(1 << 20))
            assert sock.recv(1) == hrpyc._wire.lane.OK
        other = hrpyc.connect(*local_server.address)  # each connection has its own share
        with _put(local_server.address, other.lane_key, 1) as sock:
            sock.sendall(b"x")
            assert sock.recv(1) == hrpyc._wire.lane.OK
    finally:
        for sock in lanes:
            sock.close()


def test_threads_sharing_a_connection_take_turns_on_its_bulk_lane(remote, tmp_path):
    """More threads than a connection's transfers at once push files through it: each waits its turn."""
    conn, _ = remote
    payload = os.urandom(1 << 20)
    written, errors = [], []

    def push(index):
        try:
            written.append(hrpyc.push_file(conn, str(tmp_path / "part{}".format(index)), payload))
        except Exception as error:  # collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=push, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and written == [len(payload)] * len(threads)
