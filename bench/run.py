"""hrpyc against the stock setup, side by side in one run, printed as one table.

stock: rpyc's ThreadedServer(SlaveService) with its defaults, rpyc.classic.connect, and SideFX's client
wrapper (each hou.* call bracketed by _syncFromMainContext/_syncToMainContext). hrpyc: `hrpyc serve`
with a token, hrpyc's client. raw: a plain loopback socket, where it is the limit.

    python bench/run.py            # the full run (about two minutes)
    python bench/run.py --short    # a quick run that checks everything still works (CI)
"""

import argparse
import os
import platform
import socket
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python3.7libs"))

import rpyc  # noqa: E402
import servers  # noqa: E402

import hrpyc  # noqa: E402
from hrpyc._wire.client_info import from_pairs  # noqa: E402
from hrpyc._wire.rpyc_versions import RPYC_VERSION_STRING  # noqa: E402

TOKEN = "bench-token"
STOCK_BULK_LIMIT = 10 << 20
WALK = (
    "import hou\nw = hou.node('/obj').createNode('subnet', 'walk')\nfor i in range(1000):\n    w.createNode('null')\n"
)


def chain(hou):
    hou.node("/obj/sphere1").parm("scale").set(2.0)


def timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def p99(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def walk(hou):
    return [node.parm("tx").eval() for node in hou.node("/obj/walk").children()]


def walk_remotely():
    import hou

    return [node.parm("tx").eval() for node in hou.node("/obj/walk").children()]


def raw_round_trip_seconds(repeat):
    """Median seconds for 40 bytes there and back over loopback TCP, echoed by a thread: the floor
    under any call."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sender = socket.create_connection(listener.getsockname())
        echo, _ = listener.accept()
        for sock in (sender, echo):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def serve():
            for data in iter(lambda: echo.recv(64), b""):
                echo.sendall(data)

        thread = threading.Thread(target=serve)
        thread.start()
        samples = timed(lambda: (sender.sendall(b"x" * 40), sender.recv(64)), repeat)
        sender.close()
        thread.join()
        echo.close()
    return statistics.median(samples)


def interleaved(calls, repeat):
    """{name: median seconds} of each call, timed in interleaved rounds."""
    samples = {name: [] for name in calls}
    for _ in range(5):
        for name, call in calls.items():
            samples[name] += timed(call, repeat // 5)
    return {name: statistics.median(values) for name, values in samples.items()}


def one_call_us(stock_conn, our_hou, repeat):
    """Median microseconds of rpyc's cheapest call on the stock server ('bare': a function fetched once,
    then called - one message each way) and of each of the chain's proxy calls on ours."""
    bare, node = stock_conn.modules.hou.frame, our_hou.node("/obj/sphere1")
    parm = node.parm("scale")
    calls = {
        "bare": bare,
        "hou.node(p)": lambda: our_hou.node("/obj/sphere1"),
        "node.parm(n)": lambda: node.parm("scale"),
        "parm.set(v)": lambda: parm.set(2.0),
    }
    return {name: seconds * 1e6 for name, seconds in interleaved(calls, repeat).items()}


# Calls given a list or dict, which rpyc passes by reference (the server reads them back from the client
# and then drops its proxy of them), and the same calls given a tuple, which travels by value.
CONTAINER_CALLS = {
    "hou.nodes([p])": lambda hou, node, t: hou.nodes(["/obj/sphere1"]),
    "hou.nodes((p,))": lambda hou, node, t: hou.nodes(("/obj/sphere1",)),
    "node.setParms({...})": lambda hou, node, t: node.setParms({"tx": 1.0, "scale": 2.0}),
    "parmTuple.set([...])": lambda hou, node, t: t.set([1.0, 2.0, 3.0]),
    "parmTuple.set((...))": lambda hou, node, t: t.set((1.0, 2.0, 3.0)),
}


def container_calls_ms(hous, repeat):
    """{(call, client): median ms} of CONTAINER_CALLS from each of `hous` ({client: hou})."""
    calls = {}
    for who, hou in hous.items():
        node = hou.node("/obj/sphere1")
        t = node.parmTuple("t")
        for name, call in CONTAINER_CALLS.items():
            calls[name, who] = lambda call=call, hou=hou, node=node, t=t: call(hou, node, t)
    return {key: seconds * 1e3 for key, seconds in interleaved(calls, repeat).items()}


def objects_held(observer):
    """How many server objects the observer's fellow clients hold proxies to (hrpyc's client list)."""
    return sum(info.objects for info in map(from_pairs, observer.root.hrpyc_clients()))


def dispatch_modes(repeat):
    """{mode: chain median seconds} with requests on the connection's thread, on a Qt application's main
    thread, on a (stand-in) graphical Houdini's main thread; None for a mode this Python cannot run."""
    processes = {}
    for mode in ("thread", "qt", "main"):
        try:
            processes[mode] = servers.hrpyc_server(mode)
        except RuntimeError:  # no PySide here: no Qt application
            processes[mode] = None
    try:
        hous = {mode: hrpyc.import_remote_module(*p.address)[1] for mode, p in processes.items() if p}
        for hou in hous.values():
            timed(lambda hou=hou: chain(hou), 50)
        medians = interleaved({mode: lambda hou=hou: chain(hou) for mode, hou in hous.items()}, repeat)
    finally:
        for process in processes.values():
            if process is not None:
                process.close()
    return {mode: medians.get(mode) for mode in processes}


def raw_socket_seconds(size, new_memory=False):
    """Send `size` bytes over a loopback TCP connection and read them all into a buffer already in
    memory: the floor. `new_memory`: into a buffer allocated as they come, as any receiver that hands
    out a new object must (the page faults cost about as much as the socket)."""
    payload = os.urandom(size)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sender = socket.create_connection(listener.getsockname())
        receiver, _ = listener.accept()
        buffer = None if new_memory else memoryview(bytearray(size))
        started = time.perf_counter()
        if buffer is None:
            buffer = memoryview(bytearray(size))
        thread = threading.Thread(target=sender.sendall, args=(payload,))
        thread.start()
        got = 0
        while got < size:
            got += receiver.recv_into(buffer[got:])
        elapsed = time.perf_counter() - started
        thread.join()
        sender.close()
        receiver.close()
    return elapsed


def bulk_seconds(conn, size, repeat):
    """(download, upload) median seconds for `size` random bytes through rpyc's proxies."""
    conn.execute("import os\nblob = os.urandom({})".format(size))
    down = conn.eval("blob")
    down_seconds = statistics.median(timed(lambda: conn.eval("blob"), repeat))
    up_seconds = statistics.median(timed(lambda: conn.modules.builtins.len(down), repeat))
    return down_seconds, up_seconds


def blob_length(data):
    return len(data if isinstance(data, bytes) else data[0])


def fast_bulk_seconds(conn, size, repeat, in_a_tuple=False):
    """The same through hrpyc.run: a bytes result and a bytes argument, by the bulk lane; or each the
    only item of a tuple."""
    hrpyc.run(conn, "import os, sys\nsys.hrpyc_bench_blob = os.urandom({})".format(size))
    fetch = "import sys\nresult = ({})".format("sys.hrpyc_bench_blob," if in_a_tuple else "sys.hrpyc_bench_blob")
    down = hrpyc.run(conn, fetch)
    assert hrpyc.run(conn, blob_length, down) == size
    down_seconds = statistics.median(timed(lambda: hrpyc.run(conn, fetch), repeat))
    up_seconds = statistics.median(timed(lambda: hrpyc.run(conn, blob_length, down), repeat))
    return down_seconds, up_seconds


def concurrent(make_hou, clients, calls):
    """(calls per second, errors) with `clients` threads each making `calls` chains."""
    errors, barrier = [], threading.Barrier(clients + 1)

    def client():
        try:
            conn, hou = make_hou()
            barrier.wait()
            for _ in range(calls):
                chain(hou)
            conn.close()
        except Exception as exc:  # counted, that is the measurement
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait(60)
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return clients * calls / (time.perf_counter() - started), len(errors)


def _stock_client(address):
    conn = rpyc.classic.connect(*address)
    return conn, servers.SideFXHou(conn.modules.hou)


def cpu_seconds(pid):
    with open("/proc/{}/stat".format(pid)) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--short", action="store_true", help="small sizes and counts: checks it runs")
    args = parser.parse_args()
    short = args.short
    repeat, walks, clients, calls = (200, 3, 4, 20) if short else (3000, 15, 32, 100)
    container_repeat = 10 if short else 100  # a call that stalls takes 40 ms
    held_chains = 2000 if short else 100000
    sizes = (1 << 20,) if short else (10 << 20, 100 << 20)
    bulk_repeat = 1 if short else 3
    idle = 1.0 if short else 10.0
    servers.private_state_dir()

    stock, ours = servers.stock_server(), servers.hrpyc_server(HRPYC_TOKEN=TOKEN)
    tokenless = servers.hrpyc_server()  # SideFX's client cannot send a token
    rows = []
    try:
        stock_conn = rpyc.classic.connect(*stock.address)
        stock_hou = servers.SideFXHou(stock_conn.modules.hou)
        our_conn, our_hou = hrpyc.import_remote_module(*ours.address, token=TOKEN)
        for conn in (stock_conn, our_conn):
            conn.execute(WALK)
        for hou in (stock_hou, our_hou):
            timed(lambda hou=hou: chain(hou), 50)  # warm up both

        samples = {"stock": [], "ours": []}
        for _ in range(5):  # interleaved rounds: the machine is shared and noisy
            samples["stock"] += timed(lambda: chain(stock_hou), repeat // 5)
            samples["ours"] += timed(lambda: chain(our_hou), repeat // 5)
        medians = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
        rows.append(("chain hou.node(p).parm(n).set(v), median ms", medians["stock"], medians["ours"], None))
        rows.append(("chain, p99 ms", p99(samples["stock"]) * 1e3, p99(samples["ours"]) * 1e3, None))
        rows.append(
            (
                "chain, p99 / median",
                p99(samples["stock"]) * 1e3 / medians["stock"],
                p99(samples["ours"]) * 1e3 / medians["ours"],
                None,
            )
        )

        # One call, against what any call costs: a loopback round trip, and rpyc's cheapest call (a function
        # fetched once, then called: one message each way) on the stock server.
        raw_us = raw_round_trip_seconds(repeat) * 1e6
        one = one_call_us(stock_conn, our_hou, repeat * 2)
        rows.append(("one call: stock = bare pre-bound rpyc f(), us", one["bare"], None, raw_us))
        for name in ("hou.node(p)", "node.parm(n)", "parm.set(v)"):
            rows.append(("  hrpyc proxy call {}, us".format(name), one["bare"], one[name], raw_us))

        stock_client_conn = rpyc.classic.connect(*tokenless.address)
        given = container_calls_ms(
            {
                "stock": stock_hou,
                "hrpyc": our_hou,
                "stock client": servers.SideFXHou(stock_client_conn.modules.hou),
            },
            container_repeat,
        )
        for name, by_value in (
            ("hou.nodes([p])", "hou.nodes((p,))"),
            ("node.setParms({...})", None),
            ("parmTuple.set([...])", "parmTuple.set((...))"),
        ):
            rows.append(("{}, ms".format(name), given[name, "stock"], given[name, "hrpyc"], None))
            if by_value:
                rows.append(("  the same given a tuple, ms", given[by_value, "stock"], given[by_value, "hrpyc"], None))
            rows.append(
                ("  a stock client on hrpyc's server, ms", given[name, "stock"], given[name, "stock client"], None)
            )

        stock_walk = statistics.median(timed(lambda: walk(stock_hou), walks)) * 1e3
        our_walk = statistics.median(timed(lambda: walk(our_hou), walks)) * 1e3
        fast_walk = statistics.median(timed(lambda: hrpyc.run(our_conn, walk_remotely), walks)) * 1e3
        rows.append(("walk 1,000 nodes, one parm each, ms", stock_walk, our_walk, None))
        rows.append(("  the same with hrpyc.run (one round trip), ms", stock_walk, fast_walk, None))

        stock_rate, stock_errors = concurrent(lambda: _stock_client(stock.address), clients, calls)
        our_rate, our_errors = concurrent(
            lambda: hrpyc.import_remote_module(*ours.address, token=TOKEN), clients, calls
        )
        rows.append(("{} concurrent clients, chains/s".format(clients), stock_rate, our_rate, None))
        rows.append(("{} concurrent clients, errors".format(clients), stock_errors, our_errors, None))

        stock_connect = statistics.median(timed(lambda: rpyc.classic.connect(*stock.address).close(), 30)) * 1e3
        our_connect = statistics.median(timed(lambda: hrpyc.connect(*ours.address, token=TOKEN).close(), 30)) * 1e3
        rows.append(("connect (with handshake; hrpyc: and token), ms", stock_connect, our_connect, None))

        observer = hrpyc.connect(*ours.address, token=TOKEN)
        held = [objects_held(observer)]
        for _ in range(10):
            for _chain in range(held_chains // 10):
                chain(our_hou)
            held.append(objects_held(observer))

        before = {p.proc.pid: cpu_seconds(p.proc.pid) for p in (stock, ours)}
        time.sleep(idle)  # the measurement: both servers idle, each with a client connected
        cpu = {pid: (cpu_seconds(pid) - value) / idle * 100 for pid, value in before.items()}
        rows.append(("idle server CPU over {:g} s, %".format(idle), cpu[stock.proc.pid], cpu[ours.proc.pid], None))
        nested = 1 << 20 if short else 12 << 20
        alone, inside = (fast_bulk_seconds(our_conn, nested, bulk_repeat, in_a_tuple) for in_a_tuple in (False, True))
        for direction, index in (("server -> client", 0), ("client -> server", 1)):
            label = "{:g} MB {}, hrpyc.run".format(nested / float(1 << 20), direction)
            rows.append(("{}, alone, ms".format(label), None, alone[index] * 1e3, None))
            rows.append(("  the same inside a tuple, ms", None, inside[index] * 1e3, None))
        # Last: a stock transfer that runs out of time keeps its server busy long after.
        for size in sizes:
            mb = size / float(1 << 20)
            # The stock stream re-slices what is left of a frame after every 8 kB it sends, so its time
            # grows with the square of the size: 100 MB takes minutes, and rpyc's 30 s timeout does
            # not fire once a frame has started. It is measured up to 10 MB.
            stock_down, stock_up = (
                bulk_seconds(stock_conn, size, bulk_repeat) if size <= STOCK_BULK_LIMIT else (None, None)
            )
            our_down, our_up = bulk_seconds(our_conn, size, bulk_repeat)
            fast_down, fast_up = fast_bulk_seconds(our_conn, size, bulk_repeat)
            raw = statistics.median([raw_socket_seconds(size) for _ in range(bulk_repeat)])
            raw_new = statistics.median([raw_socket_seconds(size, new_memory=True) for _ in range(bulk_repeat)])
            rate = lambda seconds, mb=mb: mb / seconds if seconds else None  # noqa: E731
            for direction, stock_s, proxy_s, fast_s in (
                ("server -> client", stock_down, our_down, fast_down),
                ("client -> server", stock_up, our_up, fast_up),
            ):
                rows.append(
                    ("{:g} MB {}, hrpyc.run, MB/s".format(mb, direction), rate(stock_s), rate(fast_s), mb / raw)
                )
                rows.append(("  the same through proxies (conn.eval), MB/s", rate(stock_s), rate(proxy_s), mb / raw))
            rows.append(("  raw socket into newly allocated memory, MB/s", None, None, mb / raw_new))

    finally:
        stock.close()
        ours.close()
        tokenless.close()
    modes = dispatch_modes(repeat)

    print(
        "hrpyc {} vs stock; Python {}, rpyc {}, {} ({} cores){}".format(
            hrpyc.__version__,
            platform.python_version(),
            RPYC_VERSION_STRING,
            platform.platform(terse=True),
            os.cpu_count(),
            "; SHORT RUN" if short else "",
        )
    )
    line = "{:52} {:>10} {:>10} {:>10} {:>8} {:>7}"
    print(line.format("measure", "stock", "hrpyc", "raw", "vs stock", "of raw"))
    for name, stock_value, our_value, raw in rows:
        lower_is_better = name.endswith(("ms", "us", "%", "median", "errors"))
        ratio = of_raw = ""
        if stock_value and our_value:
            ratio = "{:.1f}x".format(stock_value / our_value if lower_is_better else our_value / stock_value)
        if raw and our_value and name.endswith("MB/s"):
            of_raw = "{:.0f}%".format(our_value / raw * 100)
        print(
            line.format(
                name,
                _cell(stock_value),
                _cell(our_value),
                "" if raw is None else "{:.0f}".format(raw),
                ratio,
                of_raw,
            )
        )

    print(
        "(one call rows: 'vs stock' is the bare rpyc call's time over the proxy call's; 'raw' is a loopback "
        "round trip in us)"
    )
    print(
        "objects the client holds on the server over {:,} chains: {} (start), then every {:,}: {}".format(
            held_chains, held[0], held_chains // 10, " ".join(str(count) for count in held[1:])
        )
    )
    thread = modes["thread"]
    print(
        "dispatch modes, chain median ms (and / thread): "
        + "; ".join(
            "{} {}".format(mode, "-" if value is None else "{:.3f} ({:.2f})".format(value * 1e3, value / thread))
            for mode, value in modes.items()
        )
    )


def _cell(value):
    return "-" if value is None else "{:.2f}".format(value)


if __name__ == "__main__":
    main()
