"""Robustness at scale, printing figures: garbage of every kind before and after authentication while
a legitimate client keeps working, silent sockets, stop/start cycles on one port.

    python bench/robustness.py [--cases 10000] [--cycles 200]
"""

import argparse
import logging
import os
import random
import socket
import sys
import threading
import time

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


def main():
    logging.getLogger("hrpyc").setLevel(logging.ERROR)  # thousands of refusals are the point here
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--silent", type=int, default=100)
    parser.add_argument("--cycles", type=int, default=200)
    args = parser.parse_args()
    servers.private_state_dir()
    fuzz(args.cases)
    silent(args.silent)
    cycles(args.cycles)


if __name__ == "__main__":
    main()
