"""Per-call latency of the seed's chain `hou.node(p).parm(n).set(v)`, ours against the stock setup,
measured side by side (rounds interleaved) in one run. Prints a table of medians, p99s and ratios.

    python bench/latency.py [--calls 2000] [--rounds 5]
"""

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python3.7libs"))

import rpyc
import servers

import hrpyc


def chain(hou):
    hou.node("/obj/sphere1").parm("scale").set(2.0)


def setups(stock, ours):
    """name -> (hou, connection) for each way of driving a server."""
    classic_stock = rpyc.classic.connect(*stock.address)
    classic_ours = rpyc.classic.connect(*ours.address)
    our_stock_conn, our_stock_hou = hrpyc.import_remote_module(*stock.address)
    our_conn, our_hou = hrpyc.import_remote_module(*ours.address)
    return {
        "stock: SideFX sync wrapper + classic.connect + stock server": servers.SideFXHou(classic_stock.modules.hou),
        "classic.connect + stock server (no sync)": classic_stock.modules.hou,
        "hrpyc client + stock server (no sync)": our_stock_hou,
        "classic.connect + hrpyc server": classic_ours.modules.hou,
        "hrpyc: hrpyc client + hrpyc server": our_hou,
        "_keep": (classic_stock, classic_ours, our_stock_conn, our_conn),
    }


def measure(hou, calls):
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        chain(hou)
        samples.append(time.perf_counter() - t0)
    return samples


def p99(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    stock, ours = servers.stock_server(), servers.hrpyc_server()
    try:
        ways = setups(stock, ours)
        ways.pop("_keep")  # the connections stay referenced through the hou proxies
        results = {name: [] for name in ways}
        for hou in ways.values():
            measure(hou, 50)  # warm up: netref classes, caches
        for _ in range(args.rounds):
            for name, hou in ways.items():
                results[name].extend(measure(hou, args.calls // args.rounds))
    finally:
        stock.close()
        ours.close()
    base = statistics.median(results["stock: SideFX sync wrapper + classic.connect + stock server"])
    print(
        "hou.node(p).parm(n).set(v): {} calls each, {} interleaved rounds; Python {}, rpyc {}, {}".format(
            args.calls,
            args.rounds,
            platform.python_version(),
            hrpyc.rpyc_compat.RPYC_VERSION_STRING,
            platform.platform(terse=True),
        )
    )
    print("{:62} {:>10} {:>10} {:>9} {:>12}".format("setup", "median ms", "p99 ms", "p99/med", "vs stock"))
    for name, samples in results.items():
        median = statistics.median(samples)
        print(
            "{:62} {:10.3f} {:10.3f} {:9.2f} {:11.2f}x".format(
                name, median * 1e3, p99(samples) * 1e3, p99(samples) / median, base / median
            )
        )


if __name__ == "__main__":
    main()
