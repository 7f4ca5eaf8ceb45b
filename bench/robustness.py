"""Robustness at scale, printing figures: garbage of every kind before and after authentication while
a legitimate client keeps working, silent sockets, stop/start cycles on one port, and the attacks of a
local user without credentials on a server allowed 256 open files (a burst past that limit, drips,
a zlib bomb): the server's peak memory, descriptors and threads before and after, and time to recover.

    python bench/robustness.py [--cases 10000] [--cycles 200] [--burst 1100]
    python bench/robustness.py --reader [SECONDS]   the client's reader of plain data alone, fuzzed 20 s
"""

import argparse
import logging
import os
import random
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

import servers  # noqa: E402
from test_security import garbage_cases  # noqa: E402 (the same generators the tests use, at scale)

import hrpyc  # noqa: E402
import hrpyc.auth  # noqa: E402

SECRET = "bench-secret"


def send(address, payload, authenticate):
    with socket.create_connection(address, timeout=10) as sock:
        try:
            if authenticate:
                hrpyc.auth.prove(sock, SECRET, "the bench server")
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass


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
                sockets.append(socket.create_connection(server.address, timeout=2))
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
            hrpyc.auth.prove(sock, SECRET, "the bench server")
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

    from hrpyc.plain import read_literal

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
    parser.add_argument("--reader", type=float, nargs="?", const=20, help="only the reader of plain data, fuzzed N s")
    args = parser.parse_args()
    if args.reader is not None:
        return reader(args.reader)
    servers.private_state_dir()
    fuzz(args.cases)
    silent(args.silent)
    cycles(args.cycles)
    if sys.platform.startswith("linux"):
        attacks(args.burst)


if __name__ == "__main__":
    main()
