"""Per-call latency and throughput of `hou.node(p).parm(n).set(v)` in each dispatch mode — requests
on their connection's thread, on a Qt application's main thread, on a (stand-in) graphical Houdini's
main thread — measured in interleaved rounds of one run.

    python bench/dispatch.py [--calls 3000] [--rounds 6]
"""

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python3.7libs"))

import servers

import hrpyc
from hrpyc.rpyc_wire import RPYC_VERSION_STRING

MODES = ("thread", "qt", "main")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    servers.private_state_dir()
    processes = {mode: servers.hrpyc_server(mode) for mode in MODES}
    try:
        hous = {mode: hrpyc.import_remote_module(*p.address) for mode, p in processes.items()}
        samples = {mode: [] for mode in MODES}
        busy = {mode: 0.0 for mode in MODES}
        for _, hou in hous.values():
            for _ in range(100):  # warm up
                hou.node("/obj/sphere1").parm("scale").set(1.0)
        for _ in range(args.rounds):
            for mode, (_, hou) in hous.items():
                started = time.perf_counter()
                for _ in range(args.calls // args.rounds):
                    t0 = time.perf_counter()
                    hou.node("/obj/sphere1").parm("scale").set(2.0)
                    samples[mode].append(time.perf_counter() - t0)
                busy[mode] += time.perf_counter() - started
    finally:
        for process in processes.values():
            process.close()
    print(
        "dispatch modes, hou.node(p).parm(n).set(v): {} calls each in {} interleaved rounds; Python {}, rpyc {}".format(
            args.calls, args.rounds, platform.python_version(), RPYC_VERSION_STRING
        )
    )
    base = statistics.median(samples["thread"])
    header = ("mode", "median ms", "p99 ms", "max ms", "calls/s", "median/thread")
    print("{:8} {:>10} {:>9} {:>9} {:>9} {:>13}".format(*header))
    for mode in MODES:
        ordered = sorted(samples[mode])
        median = statistics.median(ordered)
        p99 = ordered[int(len(ordered) * 0.99)]
        print(
            "{:8} {:10.3f} {:9.3f} {:9.3f} {:9.0f} {:13.2f}".format(
                mode, median * 1e3, p99 * 1e3, ordered[-1] * 1e3, len(ordered) / busy[mode], median / base
            )
        )


if __name__ == "__main__":
    main()
