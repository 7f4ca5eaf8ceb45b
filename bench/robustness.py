"""Robustness at scale, printing figures: garbage of every kind before and after authentication while
a legitimate client keeps working, silent sockets, stop/start cycles on one port, and the attacks of a
local user without credentials on a server allowed 256 open files (a burst past that limit, drips,
a zlib bomb): the server's peak memory, descriptors and threads before and after, and time to recover.
Each attack of issue 23 can also run alone:

    python bench/robustness.py [--cases 10000] [--cycles 200] [--burst 1100] [--closing 200]
    python bench/robustness.py --relays [--closing 200]   relays, localhost's ::1, registry entries, closed sockets
    python bench/robustness.py --flood [--flood-seconds 20] [--flood-rate 26] [--flood-sources 1]
    python bench/robustness.py --admitted [--submits 3000] [--prints 3000000] [--lanes 200]
    python bench/robustness.py --terminal   rogue answers through the `hrpyc` command: raw control bytes out
    python bench/robustness.py --reader [SECONDS]   the client's reader of plain data alone, fuzzed 20 s
"""

import argparse
import itertools
import logging
import os
import random
import select
import socket
import struct
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python3.7libs"))

import rogue  # noqa: E402
import servers  # noqa: E402
from test_floods import _connect_from  # noqa: E402 (the tests' own way to connect from 127.0.0.x)
from test_security import garbage_cases  # noqa: E402 (the same generators the tests use, at scale)

import hrpyc  # noqa: E402
import hrpyc._auth.proof  # noqa: E402
import hrpyc._auth.tokens  # noqa: E402
import hrpyc._caller.challenge  # noqa: E402
from hrpyc._common import sessions  # noqa: E402

SECRET = "bench-secret"


def send(address, payload, authenticate):
    with socket.create_connection(address, timeout=10) as sock:
        try:
            if authenticate:
                hrpyc._caller.challenge.prove(sock, SECRET, "the bench server")
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass


def dial(address, other=0):
    """A socket connected to `address` from 127.0.0.1, or from 127.0.0.(1 + `other`): Linux answers on all
    of 127/8, and the server lets one address have only 16 sockets still authenticating."""
    return _connect_from("127.0.0.{}".format(1 + other), address)


def fuzz(cases):
    os.environ["HRPYC_AUTH_TIMEOUT"] = "2"
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET).start()
    good = hrpyc.connect(*server.address, token=SECRET)
    rng = random.Random(2026)
    failures, checks = 0, 0
    started = time.perf_counter()
    for i, payload in enumerate(garbage_cases(rng, cases)):
        send(server.address, payload, authenticate=bool(i % 2))
        if i % 10 == 0:
            checks += 1
            try:
                assert good.modules.os.getpid() == os.getpid()
            except Exception:
                failures += 1
    elapsed = time.perf_counter() - started
    deadline = time.monotonic() + 10
    while len(server.clients()) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    print(
        "garbage: {} cases ({} before, {} after authentication) in {:.1f} s; legitimate client: {} checks, "
        "{} failures; server alive: {}; clients left: {}".format(
            cases, (cases + 1) // 2, cases // 2, elapsed, checks, failures, server.is_alive(), len(server.clients())
        )
    )
    server.stop()


def silent(count):
    os.environ["HRPYC_AUTH_TIMEOUT"] = "10"
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET).start()
    sockets = [socket.create_connection(server.address) for _ in range(count)]
    started = time.perf_counter()
    conn = hrpyc.connect(*server.address, token=SECRET, timeout=5)
    conn.modules.os.getpid()
    print(
        "{} silent sockets: a legitimate client connected and called in {:.1f} ms".format(
            count, (time.perf_counter() - started) * 1e3
        )
    )
    for sock in sockets:
        sock.close()
    server.stop()


def cycles(count):
    port = hrpyc.start_server(port=0).address[1]
    hrpyc.stop_server()

    def one():
        hrpyc.start_server(port=port)
        hrpyc.connect(port=port).close()
        hrpyc.stop_server()

    for _ in range(5):
        one()
    fds = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    files, threads = fds(), threading.active_count()
    started = time.perf_counter()
    for _ in range(count):
        one()
    deadline = time.monotonic() + 5
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.05)
    print(
        "{} stop/start cycles on port {} in {:.1f} s: open files {} -> {}, threads {} -> {}".format(
            count, port, time.perf_counter() - started, files, fds(), threads, threading.active_count()
        )
    )


def _status(pid):
    """(open files, threads, peak memory in MB) of process `pid`, from /proc."""
    with open("/proc/{}/status".format(pid)) as handle:
        fields = dict(line.split(":", 1) for line in handle)
    files = len(os.listdir("/proc/{}/fd".format(pid)))
    return files, int(fields["Threads"]), int(fields["VmHWM"].split()[0]) // 1024


def _recover(address, pid, started):
    """Seconds from `started` until a legitimate client connects and calls."""
    while True:
        try:
            conn = hrpyc.connect(*address, token=SECRET, timeout=5)
            assert conn.modules.os.getpid() == pid
            conn.close()
            return time.monotonic() - started
        except hrpyc.HrpycError:
            if time.monotonic() - started > 60:
                raise
            time.sleep(0.05)


def attacks(burst):
    session = os.path.join(os.path.dirname(HERE), "tests", "sessions", "few_descriptors.py")
    server = servers.Process([sys.executable, session, "256"], HRPYC_AUTH_TIMEOUT="2", HRPYC_TOKEN=SECRET)
    pid = server.proc.pid
    try:
        _recover(server.address, pid, time.monotonic())
        before = _status(pid)
        print("attacks on a server allowed 256 open files: before: {} files, {} threads, {} MB peak".format(*before))

        sockets, started = [], time.monotonic()
        for _ in range(burst):
            try:
                sockets.append(dial(server.address, len(sockets) % 250))  # 16 from one address at most
            except OSError:
                break
        during = _status(pid)
        for sock in sockets:
            sock.close()
        print(
            "  burst of {} silent sockets in {:.2f} s (server at {} files): alive, a client served again "
            "{:.2f} s after they closed".format(
                len(sockets), time.monotonic() - started, during[0], _recover(server.address, pid, time.monotonic())
            )
        )

        drips, started = [socket.create_connection(server.address) for _ in range(20)], time.monotonic()
        cut = set()
        while len(cut) < len(drips) and time.monotonic() - started < 30:
            for index, sock in enumerate(drips):
                if index in cut:
                    continue
                try:
                    sock.sendall(b"H" if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) else b"")
                    sock.settimeout(0.01)
                    if sock.recv(1) == b"":
                        cut.add(index)
                except socket.timeout:
                    pass
                except OSError:
                    cut.add(index)
            time.sleep(0.5)
        print(
            "  20 sockets dripping a byte every 0.5 s against HRPYC_AUTH_TIMEOUT=2: {} cut, the last after "
            "{:.1f} s".format(len(cut), time.monotonic() - started)
        )
        for sock in drips:
            sock.close()

        deflate = zlib.compressobj(1)
        bomb = b"".join(deflate.compress(bytes(1 << 20)) for _ in range(1024)) + deflate.flush()
        with socket.create_connection(server.address, timeout=10) as sock:
            hrpyc._caller.challenge.prove(sock, SECRET, "the bench server")
            sock.sendall(struct.pack("!LB", len(bomb), 1) + bomb + b"\n")
            try:
                sock.recv(1)
            except OSError:
                pass
        print(
            "  a {:.1f} MB compressed frame of 1 GB: dropped; server peak {} MB".format(
                len(bomb) / 1e6, _status(pid)[2]
            )
        )
        _recover(server.address, pid, time.monotonic())
        time.sleep(2.5)  # the measurement: let authentication deadlines pass before counting what is left
        after = _status(pid)
        print("  after: {} files, {} threads, {} MB peak".format(*after))
    finally:
        server.close()


def relays(count):
    """Issue 23's relays, re-run: another user's relay on a port the client dials (a), `localhost` with
    someone on [::1] (b), a registry entry with HRPYC_TOKEN set (c), and sockets closed before the owner
    look-up against a root server. The other-user cases need root (to play 'nobody')."""
    from test_relays import Squatter, _relay_as_another_user, speak_and_close_as_another_user

    as_root = sys.platform.startswith("linux") and os.getuid() == 0
    server = hrpyc.Server("127.0.0.1", 0, token="auto").start()
    try:
        if as_root:
            pid, relay, forwarded = _relay_as_another_user(server.address)
            try:
                hrpyc.connect(*relay, token="auto")
                outcome = "CONNECTED THROUGH THE RELAY"
            except hrpyc.HrpycError as exc:
                outcome = "{}: {}".format(type(exc).__name__, str(exc)[:70] + "...")
            os.waitpid(pid, 0)
            print(
                "relay (a), another user's port, token='auto': {}; bytes the relay forwarded: {}".format(
                    outcome, int(forwarded.readline() or 0)
                )
            )
            pid, relay, _ = _relay_as_another_user(server.address)
            try:
                hrpyc.connect(*relay, token=hrpyc._auth.tokens.auto_token(), allow_other_users=True)
                outcome = "the relay HOLDS AN AUTHENTICATED CONNECTION"
            except hrpyc.HrpycError as exc:
                outcome = "refused by the server ({})".format(type(exc).__name__)
            os.waitpid(pid, 0)
            print("relay (a), the client made to go on: {}; server clients: {}".format(outcome, len(server.clients())))
        squatter = socket.socket(socket.AF_INET6)
        squatter.bind(("::1", server.address[1]))
        squatter.listen(1)
        squatter.settimeout(0.2)
        real = socket.getaddrinfo
        socket.getaddrinfo = lambda host, *a, **k: (
            real("::1", *a, **k) + real("127.0.0.1", *a, **k) if host == "localhost" else real(host, *a, **k)
        )
        try:
            conn = hrpyc.connect("localhost", server.address[1])
            reached = "the server" if conn.modules.os.getpid() == os.getpid() else "?"
            conn.close()
        finally:
            socket.getaddrinfo = real
        try:
            squatter.accept()
            dialled = "dialled"
        except socket.timeout:
            dialled = "never dialled"
        squatter.close()
        print(
            "relay (b), localhost resolving to ::1 first, a listener on [::1]: reached {}; [::1] {}".format(
                reached, dialled
            )
        )
    finally:
        server.stop()

    from rpyc.utils.registry import TCPRegistryClient, TCPRegistryServer

    registry = TCPRegistryServer(host="127.0.0.1", port=0)
    threading.Thread(target=registry.start, daemon=True).start()
    while not registry.active:
        time.sleep(0.01)
    squatter = Squatter(hrpyc._auth.proof.PROOF + os.urandom(64))
    TCPRegistryClient("127.0.0.1", registry.port).register(("HRPYC",), squatter.address[1])
    os.environ["HRPYC_TOKEN"] = SECRET
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "hrpyc", "sessions", "--registry", "tcp://127.0.0.1:{}".format(registry.port)],
        capture_output=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    del os.environ["HRPYC_TOKEN"]
    squatter.close()
    registry.close()
    print(
        "relay (c), a registered squatter, HRPYC_TOKEN set: challenge messages it heard: {}".format(
            squatter.heard.count(hrpyc._auth.proof.MAGIC)
        )
    )

    if not as_root:
        print("(the other-user cases need root on Linux: skipped)")
        return
    server = hrpyc.Server("127.0.0.1", 0).start()
    admitted = []
    hrpyc.subscribe(lambda event: admitted.append(event) if event.kind == "connected" else None)
    for _ in range(count):
        speak_and_close_as_another_user(server.address)
    time.sleep(1)  # the measurement: let the last look-ups finish
    print(
        "closed at once, as another user, against a root server with no credential: {} of {} admitted".format(
            len(admitted), count
        )
    )
    server.stop()


def terminal():
    """Every rogue handshake answer through `hrpyc ping`, one through the shell (banner and a hostile
    traceback), all of them and odd ports through `hrpyc sessions --registry`, and a hostile session record
    through `hrpyc sessions` and `--clients` on an ASCII console."""
    started = time.perf_counter()
    rogues, registry, runs = rogue.RogueServers(), rogue.Registry(), []
    record = None
    try:
        for answer in rogue.ANSWERS.values():
            port = rogues.start(answer, clients=rogue.HOSTILE_CLIENTS)
            registry.register(port)
            runs.append(rogue.hrpyc_bytes("ping", "127.0.0.1:{}".format(port)))
        registry.register(rogue.HOSTILE)
        port = rogues.start(rogue.ANSWERS["escapes"], clients=rogue.HOSTILE_CLIENTS)
        runs.append(rogue.hrpyc_bytes("shell", "127.0.0.1:{}".format(port), stdin=b"connection.root.boom()\n"))
        runs.append(rogue.hrpyc_bytes("sessions", "--registry", registry.address))
        scene = rogue.HOSTILE + "x" * rogue.MEGABYTE
        record = sessions.register(dict(port=port, host="127.0.0.1", scene=scene, houdini=rogue.HOSTILE))
        for args in (("sessions",), ("sessions", "--clients")):
            runs.append(rogue.hrpyc_bytes(*args, PYTHONIOENCODING="ascii"))
    finally:
        if record is not None:
            sessions.unregister(record)
        registry.close()
        rogues.close()
    outputs = [rogue.shell_output(run) for run in runs]  # what IPython 7 adds of its own left out
    print(
        "terminal: {} rogue answers, {} runs of the hrpyc command in {:.1f} s: {} raw control bytes reached the "
        "output, {} raw tracebacks, exit codes {}; largest output {:,} bytes (largest answer {:,} characters)".format(
            len(rogue.ANSWERS),
            len(runs),
            time.perf_counter() - started,
            sum(rogue.raw_controls(output) for output in outputs),
            sum(b"Traceback (most recent call last)" in run.stderr for run in runs),
            "/".join(sorted({str(run.returncode) for run in runs})),
            max(len(output) for output in outputs),
            rogue.MEGABYTE + len(rogue.HOSTILE),
        )
    )


def flood(seconds, rate=26, tries=25, sources=1):
    """Issue 23's flood: `rate` new silent sockets a second (from `sources` addresses, 127.0.0.1 and up) for `seconds`
    against a token server with the default 10 s to authenticate, while `tries` legitimate clients connect,
    spread over the time after the first 10 s (when the flood alone would hold 260 places): how many got in,
    what the others were told, and how many `refused` events (the panel's log) stood for how many refusals."""
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET).start()
    events = []
    hrpyc.subscribe(events.append)
    stop, held = threading.Event(), []

    def attack():
        started = time.monotonic()
        for n in itertools.count():
            if stop.wait(max(0.0, started + n / rate - time.monotonic())):
                return
            try:
                held.append(dial(server.address, n % sources))  # silent; closed at the end
            except OSError:
                continue

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    got_in, told, waits = 0, {}, []
    started, filled = time.monotonic(), min(10.0, seconds / 2)
    for i in range(tries):
        at = started + filled + (i + 0.5) * (seconds - filled) / tries
        time.sleep(max(0.0, at - time.monotonic()))  # the schedule, not a wait for something
        began = time.perf_counter()
        try:
            conn = hrpyc.connect(*server.address, token=SECRET, timeout=5)
            assert conn.modules.os.getpid() == os.getpid()
            conn.close()
            got_in += 1
            waits.append(time.perf_counter() - began)
        except hrpyc.HrpycError as exc:
            told[str(exc)] = told.get(str(exc), 0) + 1
    stop.set()
    attacker.join()
    server.stop()
    hrpyc.unsubscribe(events.append)
    for sock in held:
        sock.close()
    refused = [e for e in events if e.kind == "refused"]
    print(
        "flood: {} silent sockets in {:.0f} s ({}/s from {} address{}) against a token server: legitimate "
        "clients got in {} of {} (slowest {:.0f} ms){}; {} refused events for {} refusals".format(
            len(held),
            seconds,
            rate,
            sources,
            "es" if sources > 1 else "",
            got_in,
            tries,
            max(waits or [0]) * 1e3,
            "".join("; told {!r} x{}".format(message, count) for message, count in told.items()),
            len(refused),
            sum(e.count for e in refused),
        )
    )


def _memory(pid):
    """(resident, peak resident, address space) of process `pid`, in MB, from /proc."""
    with open("/proc/{}/status".format(pid)) as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return tuple(int(fields[name].split()[0]) // 1024 for name in ("VmRSS", "VmHWM", "VmSize"))


HOLD = "import builtins, threading\nbuiltins.__dict__.setdefault({!r}, threading.Event()).wait()\n"


def _submit_all(address, pid, submits, per_connection):
    """`submits` jobs that wait, `per_connection` a connection, submitted as fast as a client can (the
    service's call without its first wait); then they are let go. (refused, a refusal, peak threads, s)."""
    conns = [hrpyc.connect(*address) for _ in range(-(-submits // per_connection))]
    gate = "hrpyc_bench_gate_{}".format(per_connection)
    hold = HOLD.format(gate)
    refused, said, peak, started = 0, "", 0, time.monotonic()
    for index in range(submits):
        try:
            answer = conns[index // per_connection].root.hrpyc_submit(hold, "", "((), {})", (), 0, 0)
            if not answer[0]:  # not taken: its reason comes as a cancelled job's outcome
                refused, said = refused + 1, answer[3]
        except Exception as exc:  # how a server of another version might refuse
            refused, said = refused + 1, str(exc).splitlines()[0]
        if index % 50 == 0:
            peak = max(peak, _status(pid)[1])
    peak, took = max(peak, _status(pid)[1]), time.monotonic() - started
    conns[0].modules.builtins.__dict__.setdefault(gate, conns[0].modules.threading.Event()).set()
    for conn in conns:
        conn.close()
    return refused, said, peak, took


def admitted(submits, prints, lanes):
    server = servers.hrpyc_server()  # `hrpyc serve`: thread dispatch, each job off the main thread
    pid = server.proc.pid
    try:
        print("an admitted client against `hrpyc serve` (thread dispatch): before: {} threads".format(_status(pid)[1]))
        refused, said, peak, took = _submit_all(server.address, pid, submits, submits)
        print(
            "  {:,} waiting jobs submitted on one connection in {:.1f} s: {:,} refused; peak {} threads".format(
                submits, took, refused, peak
            )
        )
        if said:
            print("    refused with: {}".format(said))
        refused, _, peak, took = _submit_all(server.address, pid, submits, 500)
        print(
            "  {:,} waiting jobs submitted on {} connections in {:.1f} s: {:,} refused; peak {} threads".format(
                submits, -(-submits // 500), took, refused, peak
            )
        )

        conn = hrpyc.connect(*server.address)
        for polling in (True, False):
            code = (
                "import builtins, sys\nwrite = sys.stdout.write\nfor _ in range({}):\n    write('x')\n"
                "builtins.hrpyc_bench_written_{} = True\n".format(prints, polling)
            )
            before = _memory(pid)
            started = time.monotonic()
            job = hrpyc.submit(conn, code)
            if not polling:  # all of it waits unread on the server: watch for its end by a proxy
                while not getattr(conn.modules.builtins, "hrpyc_bench_written_False", False):
                    time.sleep(0.2)
                after = _memory(pid)
            try:
                job.result()
                got = "its client got {:,} characters".format(len(job.output))
            except hrpyc.HrpycError as exc:
                got = "its client's read failed: {}".format(exc)
            after = _memory(pid) if polling else after
            print(
                "  a job writing {:,} single characters ({:.1f} s, {}): server resident {} -> {} MB, peak {} -> "
                "{} MB; {}".format(
                    prints,
                    time.monotonic() - started,
                    "its client polling" if polling else "all of it unread until it ended",
                    before[0],
                    after[0],
                    before[1],
                    after[1],
                    got,
                )
            )
        conn.close()
        _lanes(server.address, pid, lanes)
    finally:
        server.close()


def _lanes(address, pid, count):
    """`count` bulk-lane uploads, each declaring 8 GB, then a byte every 10 s: on one connection, then
    spread four to a connection: what they reserve, and how long they stay."""
    import hrpyc._wire.lane

    def upload(owner):
        sock = socket.create_connection(address, timeout=10)
        sock.sendall(hrpyc._wire.lane.MAGIC + owner.lane_key + b"p" + struct.pack(">Q", 8 << 30))
        return sock

    owner = hrpyc.connect(*address)
    socks = [upload(owner) for _ in range(count)]
    told, held = set(), getattr(hrpyc._wire.lane, "MAX_LANES", 0)  # those a server that caps lanes keeps
    started = time.monotonic()
    while len(told) < count - held and time.monotonic() < started + 20:
        readable, _, _ = select.select([sock for sock in socks if sock not in told], [], [], 0.1)
        told.update(readable)
    took = time.monotonic() - started
    busy = sum(sock.recv(1) == getattr(hrpyc._wire.lane, "BUSY", None) for sock in told)
    print(
        "  {} lane uploads declaring 8 GB each on one connection: {} told busy in {:.1f} s, {} kept".format(
            count, busy, took, count - len(told)
        )
    )
    for sock in socks:
        sock.close()
    owner.close()

    owners = [hrpyc.connect(*address) for _ in range(max(1, count // 4))]
    before = _memory(pid)
    started = time.monotonic()
    socks = [upload(owners[index % len(owners)]) for index in range(count)]
    time.sleep(1)  # the measurement: let the server read every header
    during = _memory(pid)
    alive, cut_at, dripped = set(socks), [], 0
    while alive and time.monotonic() - started < 120:
        if time.monotonic() - started >= dripped * 10:  # a byte every 10 s
            for sock in list(alive):
                try:
                    sock.sendall(b"x")
                except OSError:
                    alive.discard(sock)
                    cut_at.append(time.monotonic() - started)
            dripped += 1
        readable, _, _ = select.select(list(alive), [], [], 0.5)
        for sock in readable:  # the server hung up
            alive.discard(sock)
            cut_at.append(time.monotonic() - started)
    for sock in socks:
        sock.close()
    print(
        "  {} lane uploads declaring 8 GB each, 4 a connection, a byte every 10 s: server address space "
        "{:,} -> {:,} MB, resident {} -> {} MB; {} cut, the first after {}, the last after {}; {} open at "
        "120 s".format(
            count,
            before[2],
            during[2],
            before[0],
            during[0],
            len(cut_at),
            "{:.1f} s".format(min(cut_at)) if cut_at else "-",
            "{:.1f} s".format(max(cut_at)) if cut_at else "-",
            len(alive),
        )
    )
    for owner in owners:
        owner.close()


def _timed(read, text, runs=3):
    """(the fewest CPU seconds of `runs`, so that the load of other processes counts less; what `read` made of
    `text`: read, or refused and why)."""
    best, outcome = float("inf"), "read"
    for _ in range(runs):
        started = time.process_time()
        try:
            read(text)
        except (ValueError, SyntaxError) as exc:
            outcome = "refused: {}".format(str(exc)[:60])
        best = min(best, time.process_time() - started)
    return best, outcome


def _ordinary_answers(rng):
    """What hrpyc.run returns every day, and the densest plain data: each a list of many small values."""
    return {
        "10,000 floats": repr([rng.random() * 1000 for _ in range(10000)]),
        "10,000 strings": repr(["node_{}/{}".format(i, "x" * rng.randrange(20)) for i in range(10000)]),
        "10,000 dicts": repr(
            [{"id": i, "name": "pt{}".format(i), "P": (rng.random(), 1.5, -2.0)} for i in range(10000)]
        ),
        "10,000 short bytes": repr([bytes(rng.getrandbits(8) for _ in range(rng.randrange(30))) for _ in range(10000)]),
        "1 MB of bytes in a tuple": repr(("digest", bytes(rng.getrandbits(8) for _ in range(1 << 20)))),
        "1 MB of [0, 0, ...]": repr([0] * (1 << 19)),
        "1 MB of [[0], [0], ...]": repr([[0]] * (1 << 18)),
    }


def reader(seconds):
    """The client's reader of plain data (what hrpyc.run returns, what a rogue server may send instead):
    seconds a megabyte for each hostile answer and for ordinary data beside ast.literal_eval, then
    `seconds` of fuzzing for slow inputs (a motif repeated to 16 kB and to 128 kB: linear time grows 8x,
    quadratic 64x), crashes, warnings and disagreements with literal_eval."""
    import ast

    from test_security import HOSTILE_LITERALS

    from hrpyc._wire.literal import read_literal

    print("reader of plain data, Python {}: CPU seconds a megabyte".format(sys.version.split()[0]))
    for name in sorted(HOSTILE_LITERALS):
        text = HOSTILE_LITERALS[name](1 << 20)
        took, outcome = _timed(read_literal, text)
        print("  {:36} {:6.3f} s/MB  {}".format(name, took / len(text) * (1 << 20), outcome))
    for name, text in _ordinary_answers(random.Random(1)).items():
        ours, theirs = _timed(read_literal, text)[0], _timed(ast.literal_eval, text)[0]
        print(
            "  {:36} {:6.3f} s/MB  (literal_eval {:.3f}; {:.1f} ms here)".format(
                name, ours / len(text) * (1 << 20), theirs / len(text) * (1 << 20), ours * 1e3
            )
        )
    _fuzz_reader(read_literal, seconds)


def _cpu(read, text):
    started = time.process_time()
    try:
        read(text)
    except ValueError:
        pass
    return time.process_time() - started


def _repeated(motif, size):
    head, body = motif
    return head + body * max(1, (size - len(head)) // len(body))


def _fuzz_reader(read_literal, seconds):
    """Random plain data read back exactly, mutated texts against literal_eval, and motifs repeated to
    16 kB and 128 kB (linear time grows 8x, quadratic 64x): pieces of literals at random, or the reprs of
    small values (dense plain data); the slowest and the steepest are timed again at 1 MB."""
    import tempfile
    import warnings

    from test_security import LITERAL_PIECES, disagreement, mutated_literals, plain_values, same

    rng, deadline = random.Random(), time.monotonic() + seconds
    counts = dict.fromkeys(("values", "mutations", "motifs"), 0)
    failures, slowest, steepest = [], [(0.0, ("", ""))], [(0.0, ("", ""))]
    heads = ("", "[", "{", "(", "'", "b'", '"', "[1, ", "{0: ", "b'\\'", "'\\x")
    with tempfile.TemporaryFile() as stderr, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = os.dup(2)
        os.dup2(stderr.fileno(), 2)  # what the C parts might print
        try:
            while time.monotonic() < deadline:
                for value in plain_values(rng, 50):
                    counts["values"] += 1
                    try:
                        if not same(read_literal(repr(value)), value):
                            failures.append(("read back wrong", repr(value)))
                    except Exception as exc:  # any of them is a finding
                        failures.append((type(exc).__name__, repr(value)))
                for text in mutated_literals(rng, 50):
                    counts["mutations"] += 1
                    try:
                        what = disagreement(text)
                    except Exception as exc:
                        what = type(exc).__name__
                    if what:
                        failures.append((what, text))
                if rng.random() < 0.5:
                    motif = (rng.choice(heads), "".join(rng.choice(LITERAL_PIECES) for _ in range(rng.randint(1, 6))))
                else:
                    motif = ("[", "".join(repr(value) + ", " for value in plain_values(rng, rng.randint(1, 3), 1)))
                small, large = (_repeated(motif, size) for size in (16 << 10, 128 << 10))
                counts["motifs"] += 1
                took = [min(_cpu(read_literal, text) for _ in range(2)) for text in (small, large)]
                slowest = sorted(slowest + [(took[1] / len(large) * (1 << 20), motif)])[-3:]
                if took[1] > 0.005:
                    steepest = sorted(steepest + [(took[1] / max(took[0], 1e-6), motif)])[-3:]
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        printed = stderr.seek(0, os.SEEK_END)
    failures += [("warning", str(warning.message)) for warning in caught]
    print(
        "  fuzzed {:.0f} s: {values} random values read back, {mutations} mutated texts against literal_eval, "
        "{motifs} motifs timed".format(seconds, **counts)
    )
    for label, found in (("slowest", slowest), ("steepest growth", steepest)):
        for measure, motif in reversed(found):
            if motif[1]:
                text = _repeated(motif, 1 << 20)
                print(
                    "  {} motif: {:.3f} at 128 kB, {:.3f} s/MB at 1 MB: {}".format(
                        label,
                        measure,
                        min(_cpu(read_literal, text) for _ in range(2)) / len(text) * (1 << 20),
                        ascii(motif[0] + motif[1])[:50],
                    )
                )
    print("  failures: {}; bytes on stderr: {}".format(len(failures), printed))
    for what, text in failures[:10]:
        print("    {}: {}".format(what, ascii(text)[:100]))


def main():
    logging.getLogger("hrpyc").setLevel(logging.ERROR)  # thousands of refusals are the point here
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--silent", type=int, default=100)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--burst", type=int, default=1100)
    parser.add_argument("--closing", type=int, default=200, help="sockets closed before the owner look-up")
    parser.add_argument("--terminal", action="store_true", help="only the rogue answers through the hrpyc command")
    parser.add_argument("--relays", action="store_true", help="only issue 23's relays and closed sockets")
    parser.add_argument("--flood", action="store_true", help="only issue 23's flood of silent sockets (~20 s)")
    parser.add_argument("--flood-seconds", type=float, default=20.0)
    parser.add_argument("--flood-rate", type=int, default=26, help="new silent sockets a second")
    parser.add_argument("--flood-sources", type=int, default=1, help="127.0.0.x addresses the flood comes from")
    parser.add_argument("--admitted", action="store_true", help="only the attacks of an admitted client")
    parser.add_argument("--submits", type=int, default=3000)
    parser.add_argument("--prints", type=int, default=3000000)
    parser.add_argument("--lanes", type=int, default=200)
    parser.add_argument("--reader", type=float, nargs="?", const=20, help="only the reader of plain data, fuzzed N s")
    args = parser.parse_args()
    if args.reader is not None:
        return reader(args.reader)
    servers.private_state_dir()
    if args.terminal:
        terminal()
        return
    if args.relays:
        relays(args.closing)
        return
    if args.flood:
        flood(args.flood_seconds, args.flood_rate, sources=args.flood_sources)
        return
    if args.admitted:
        admitted(args.submits, args.prints, args.lanes)
        return
    fuzz(args.cases)
    silent(args.silent)
    cycles(args.cycles)
    if sys.platform.startswith("linux"):
        attacks(args.burst)
    relays(args.closing)


if __name__ == "__main__":
    main()
