"""`hrpyc mcp` as an assistant meets it: each tool's round trip - the MCP SDK's client, `hrpyc mcp` over
stdio, `hrpyc serve --demo` - and the size of houdini_scene's answers on a scene of 5,000 nodes.
Needs the MCP SDK (pip install 'hrpyc[mcp]', Python 3.10+).

    python bench/mcp_tools.py            # about a minute
    python bench/mcp_tools.py --short    # a quick run that checks everything still works
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIBS = os.path.join(os.path.dirname(HERE), "python3.7libs")
sys.path.insert(0, LIBS)

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

NODES = 5000  # in the large scene: 50 geo objects of 99 nulls each


def serve_demo(env):
    """`hrpyc serve --demo` on a free port: (process, port)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hrpyc", "serve", "--demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = process.stdout.readline()
    return process, int(re.search(r"serving on \S+:(\d+)", line).group(1))


async def timed(client, tool, arguments):
    """(seconds, answer's characters, is_error) of one call."""
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    seconds = time.perf_counter() - started
    return seconds, sum(len(getattr(part, "text", "") or getattr(part, "data", "")) for part in result.content), result


async def round_trips(client, repeats):
    """Each tool's median round trip over `repeats` calls, and its answer's size."""
    first = await client.call_tool("houdini_run_python", {"code": "result = 1"})
    job = json.loads(first.content[0].text)["job"]
    await client.call_tool("houdini_create_node", {"parent": "/obj", "node_type": "geo", "name": "bench"})
    made = []
    for _ in range(repeats):
        answer = await client.call_tool("houdini_create_node", {"parent": "/obj/bench", "node_type": "null"})
        made.append(json.loads(answer.content[0].text)["path"])
    calls = [
        ("houdini_sessions", lambda n: {}),
        ("houdini_scene", lambda n: {"path": "/obj"}),
        ("houdini_node", lambda n: {"path": "/obj/sphere1"}),
        ("houdini_run_python", lambda n: {"code": "result = 1"}),
        ("houdini_job", lambda n: {"job": job, "wait": 0}),
        ("houdini_cancel", lambda n: {"job": job}),
        ("houdini_set_parms", lambda n: {"path": "/obj/sphere1", "parms": {"scale": 1.0 + n}}),
        ("houdini_create_node", lambda n: {"parent": "/obj/bench", "node_type": "sphere"}),
        ("houdini_connect", lambda n: {"source": "/obj/geo1/grid1", "target": "/obj/geo1/OUT"}),
        ("houdini_delete", lambda n: {"paths": [made[n]]}),
        ("houdini_undo", lambda n: {}),
        ("houdini_capture", lambda n: {"width": 800, "height": 450}),
    ]
    print("{:<22} {:>10} {:>10}  {}".format("TOOL", "MEDIAN", "ANSWER", "NOTE"))
    for tool, arguments in calls:
        runs = [await timed(client, tool, arguments(n)) for n in range(repeats)]
        seconds, size, result = statistics.median(r[0] for r in runs), runs[-1][1], runs[-1][2]
        note = result.content[0].text[:60] if result.is_error else ""
        print("{:<22} {:>7.1f} ms {:>8} c  {}".format(tool, seconds * 1e3, size, note))


async def large_scene(client):
    """Make NODES nodes, then read /obj in pages: their count and sizes, and the time each took."""
    make = "import hou\nfor g in range(50):\n    geo = hou.node('/obj').createNode('geo')\n"
    make += "    for n in range(99):\n        geo.createNode('null')"
    started = time.perf_counter()
    await client.call_tool("houdini_run_python", {"code": make, "wait": 50})
    print("\n{} nodes made in {:.1f} s (houdini_run_python, one job)".format(NODES, time.perf_counter() - started))
    pages, cursor = [], None
    while True:
        arguments = {"path": "/obj", "cursor": cursor} if cursor else {"path": "/obj"}
        seconds, size, result = await timed(client, "houdini_scene", arguments)
        page = json.loads(result.content[0].text)
        pages.append((seconds, size, len(page["nodes"])))
        cursor = page["next_cursor"]
        if not cursor:
            break
    rows = sum(p[2] for p in pages)
    sizes = [p[1] for p in pages]
    print(
        "houdini_scene /obj, all levels: {} rows in {} pages; {}-{} rows a page; answers {}-{} characters "
        "(total {}, {:.1f} a row); {:.0f} ms a page (median), {:.1f} s for all".format(
            rows,
            len(pages),
            min(p[2] for p in pages),
            max(p[2] for p in pages),
            min(sizes),
            max(sizes),
            sum(sizes),
            sum(sizes) / rows,
            statistics.median(p[0] for p in pages) * 1e3,
            sum(p[0] for p in pages),
        )
    )
    seconds, size, result = await timed(client, "houdini_scene", {"path": "/obj", "max_depth": 1})
    page = json.loads(result.content[0].text)
    print(
        "houdini_scene /obj, max_depth=1: {} rows, {} characters, {:.0f} ms; a row: {}".format(
            len(page["nodes"]), size, seconds * 1e3, json.dumps(page["nodes"][-1])
        )
    )


async def bench(port, env, repeats, short):
    params = StdioServerParameters(command=sys.executable, args=["-m", "hrpyc", "mcp", "--port", str(port)], env=env)
    started = time.perf_counter()
    async with Client(params, read_timeout_seconds=120) as client:
        tools = await client.list_tools()
        print(
            "hrpyc mcp: started and listed {} tools in {:.2f} s\n".format(
                len(tools.tools), time.perf_counter() - started
            )
        )
        await round_trips(client, repeats)
        if not short:
            await large_scene(client)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="a quick run that checks it works")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([LIBS, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env["HRPYC_STATE_DIR"] = tempfile.mkdtemp(prefix="hrpyc-bench-mcp-")
    demo, port = serve_demo(env)
    try:
        print("Python {}, the demo on port {}\n".format(sys.version.split()[0], port))
        asyncio.run(bench(port, env, 3 if args.short else 20, args.short))
    finally:
        demo.terminate()
        demo.wait()


if __name__ == "__main__":
    main()
