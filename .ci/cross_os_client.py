"""One client of the cross-OS check (.ci/cross_os.py runs it, on Linux or under Wine): drives the server
at HOST PORT as a user does, then times the chain bench/run.py times, and prints one line."""

import statistics
import sys
import time

import rpyc

import hrpyc
from hrpyc._wire.rpyc_versions import RPYC_VERSION_STRING

host, port = sys.argv[1], int(sys.argv[2])
conn, hou = hrpyc.import_remote_module(host, port)
scale = hou.node("/obj/sphere1").parm("scale")
scale.set(3.0)
assert scale.eval() == 3.0
blob = bytes(range(256)) * 4096  # 1 MB each way: by the bulk lane
path = hrpyc.run(conn, "import os, tempfile\nhandle, result = tempfile.mkstemp()\nos.close(handle)")
assert hrpyc.push_file(conn, path, blob) == len(blob) and hrpyc.fetch_file(conn, path) == blob
conn.modules.os.remove(path)
assert rpyc.classic.connect(host, port).modules.hou.node("/obj/sphere1").path() == "/obj/sphere1"
samples = []
for _ in range(300):
    started = time.perf_counter()
    hou.node("/obj/sphere1").parm("scale").set(2.0)
    samples.append(time.perf_counter() - started)
samples.sort()
print(
    "{} python {} rpyc {} -> {} server (python {}, rpyc {}): ok; chain median {:.2f} ms, p90 {:.2f} ms".format(
        sys.platform,
        sys.version.split()[0],
        RPYC_VERSION_STRING,
        conn.modules.sys.platform,
        conn.server_info["python"],
        conn.server_info["rpyc"],
        statistics.median(samples) * 1000,
        samples[int(len(samples) * 0.9)] * 1000,
    )
)
