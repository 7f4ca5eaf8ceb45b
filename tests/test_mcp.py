"""`hrpyc mcp`: an AI assistant drives Houdini through MCP. The MCP SDK's own client starts `hrpyc mcp`
over stdio, as Claude Desktop, VS Code or Cursor do, and calls the tools against `hrpyc serve --demo` and
the stand-in Houdini (graphical and hython). Collected on Python 3.10+ only (see conftest.py)."""

import asyncio
import base64
import json
import os
import sys

import pytest
from certs import make_authority
from conftest import LIBS, ServerProcess, child_env, need

need("mcp", "the MCP SDK (pip install 'hrpyc[mcp]') runs these tests")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from hrpyc._cli.mcp_server import MAX_ANSWER, READ_TOOLS, progress_report  # noqa: E402
from hrpyc._common import png  # noqa: E402

TOOLS = {
    "houdini_sessions",
    "houdini_run_python",
    "houdini_job",
    "houdini_cancel",
    "houdini_scene",
    "houdini_node",
    "houdini_set_parms",
    "houdini_create_node",
    "houdini_connect",
    "houdini_delete",
    "houdini_undo",
    "houdini_capture",
}
SMALL = {"width": 160, "height": 90}  # the stand-in's flipbook writes pixels one by one in Python


def assistant(scenario, *flags, port=None, **env):
    """Start `hrpyc mcp` as an assistant's host does (a child over stdio, through the SDK's client), run
    `scenario(client)` against it, and return what it returns."""
    args = ["-m", "hrpyc", "mcp", *flags] + (["--port", str(port)] if port else [])
    params = StdioServerParameters(command=sys.executable, args=args, env=child_env(**env))

    async def session():
        async with Client(params, read_timeout_seconds=90) as client:
            return await scenario(client)

    return asyncio.run(session())


async def call(client, tool, **arguments):
    """(answer as JSON or text, is_error, the answer's other contents), checking it is bounded."""
    result = await client.call_tool(tool, arguments)
    first, *rest = result.content
    assert len(first.text) <= MAX_ANSWER, (tool, len(first.text))
    if result.is_error:
        return first.text, True, rest
    return json.loads(first.text), False, rest


def one_line_error(answer, is_error):
    assert is_error, answer
    assert "\n" not in answer and "Traceback" not in answer and len(answer) <= 500, answer
    return answer


@pytest.fixture
def demo():
    """`hrpyc serve --demo` in a plain Python (no stand-in hou on its path)."""
    server = ServerProcess("--demo", PYTHONPATH=LIBS)
    yield server
    server.close()


def test_an_assistant_sees_every_tool_and_reads_the_demo_scene(demo):
    async def scenario(client):
        listed = await client.list_tools()
        sessions, _, _ = await call(client, "houdini_sessions")
        scene, _, _ = await call(client, "houdini_scene", path="/obj")
        sphere, _, _ = await call(client, "houdini_node", path="/obj/sphere1/sphere1", parm_filter="r*")
        return listed, sessions, scene, sphere

    listed, sessions, scene, sphere = assistant(scenario)  # no --port: this user's only session
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS
    assert all(tools[name].annotations.read_only_hint for name in READ_TOOLS)
    assert [s["port"] for s in sessions["sessions"]] == [demo.port] and "demo" in sessions["sessions"][0]["runs_in"]
    assert [row[:2] for row in scene["nodes"]] == [
        ["/obj", "obj"],
        ["/obj/sphere1", "geo"],
        ["/obj/sphere1/sphere1", "sphere"],
        ["/obj/geo1", "geo"],
        ["/obj/geo1/OUT", "null"],
        ["/obj/geo1/grid1", "grid"],
        ["/obj/cam1", "cam"],
    ]
    assert scene["next_cursor"] is None
    assert sphere["type"] == "sphere" and sphere["parms"] == {"rad": [1.0, 1.0, 1.0], "rows": 13}


def test_each_change_tool_changes_the_demo_scene(demo):
    async def scenario(client):
        answers = [
            await call(client, "houdini_set_parms", path="/obj/sphere1", parms={"t": [0, 1, 0], "scale": 2}),
            await call(client, "houdini_create_node", parent="/obj/geo1", node_type="sphere", name="ball"),
            await call(client, "houdini_connect", source="/obj/geo1/ball", target="/obj/geo1/OUT"),
            await call(client, "houdini_delete", paths=["/obj/geo1/grid1"]),
            await call(
                client,
                "houdini_run_python",
                code="import hou\nresult = sorted(hou.node('/obj/geo1').children(), key=str)",
            ),
            await call(
                client,
                "houdini_run_python",
                code="import hou\nresult = [c.name() for c in hou.node('/obj/geo1').children()]",
            ),
        ]
        undo = await call(client, "houdini_undo")
        return answers, undo

    answers, undo = assistant(scenario, port=demo.port)
    assert [error for _, error, _ in answers] == [False, False, False, False, True, False]
    assert answers[0][0]["parms"] == {"t": [0.0, 1.0, 0.0], "scale": 2.0}
    assert answers[1][0] == {"path": "/obj/geo1/ball", "type": "sphere"}
    assert answers[2][0]["inputs"] == ["/obj/geo1/ball"]
    assert "returns plain data" in one_line_error(*answers[4][:2])  # nodes are not plain data
    assert sorted(answers[5][0]["result"]) == ["OUT", "ball"]
    assert "keeps no undo history" in one_line_error(*undo[:2])


def test_a_capture_of_the_demo_is_a_png_file_showing_its_geometry(demo):
    async def scenario(client):
        return await call(client, "houdini_capture", width=320, height=180)

    answer, error, rest = assistant(scenario, port=demo.port)
    assert not error, answer
    with open(answer["path"], "rb") as handle:
        data = handle.read()
    assert png.blank(data) is None and png.read(data)[:2] == (320, 180)
    assert answer["frame"] == 1.0 and answer["bytes"] == len(data)
    assert rest[0].type == "image" and base64.b64decode(rest[0].data) == data
    sphere = png.read(data).rows[125][160 * 3 : 160 * 3 + 3]  # below the centre: the sphere, orange
    assert sphere[0] > sphere[2] + 60, sphere


def test_a_job_longer_than_the_answer_is_followed_through_houdini_job_to_its_result(demo):
    code = (
        "import time\n"
        "for step in range(16):\n"
        "    print('step', step, flush=True)\n"
        "    time.sleep(0.25)\n"
        "result = {'steps': 16}"
    )
    notified = []

    async def progress(value, total, message):
        notified.append((value, total, message))

    async def scenario(client):
        first = await client.call_tool("houdini_run_python", {"code": code, "wait": 2.5}, progress_callback=progress)
        started = json.loads(first.content[0].text)
        followed = [await call(client, "houdini_job", job=started["job"], wait=0.2)]
        while followed[-1][0]["state"] == "running":
            followed.append(await call(client, "houdini_job", job=started["job"], wait=5))
        return started, followed

    started, followed = assistant(scenario, port=demo.port)
    assert started["state"] == "running" and "houdini_job" in started["note"], started
    last, error, _ = followed[-1]
    assert not error and last["state"] == "done" and last["result"] == {"steps": 16}, last
    assert last["output"] == "".join("step {}\n".format(i) for i in range(16))
    assert len(notified) >= 2 and all(later[0] > earlier[0] for earlier, later in zip(notified, notified[1:]))
    assert notified[0][2].startswith("running for")


def test_job_progress_reads_as_the_jobs_own_fraction_once_it_reports_one():
    assert progress_report(3.0, None) == (3.0, None, "running for 3 s")
    seconds, total, message = progress_report(3.0, (0.25, "frame 25 of 100"))
    assert (seconds, seconds / total, message) == (3.0, 0.25, "frame 25 of 100")


def test_a_running_job_is_cancelled(demo):
    async def scenario(client):
        forever = "import time\nwhile True:\n    time.sleep(0.01)"
        started, _, _ = await call(client, "houdini_run_python", code=forever, wait=0.3)
        cancelled, _, _ = await call(client, "houdini_cancel", job=started["job"])
        after, _, _ = await call(client, "houdini_run_python", code="result = 'still serving'")
        return started, cancelled, after

    started, cancelled, after = assistant(scenario, port=demo.port)
    assert started["state"] == "running"
    assert cancelled["state"] == "cancelled" and "was cancelled" in cancelled["error"]
    assert after["result"] == "still serving"


def test_read_only_offers_only_the_tools_that_change_nothing(demo):
    async def scenario(client):
        listed = await client.list_tools()
        refused = await call(client, "houdini_set_parms", path="/obj/sphere1", parms={"scale": 3})
        scale, _, _ = await call(client, "houdini_node", path="/obj/sphere1", parm_filter="scale")
        return listed, refused, scale

    listed, refused, scale = assistant(scenario, "--read-only", port=demo.port)
    assert {tool.name for tool in listed.tools} == set(READ_TOOLS)
    one_line_error(*refused[:2])
    assert scale["parms"] == {"scale": 1.0}


def test_errors_are_one_line_tool_errors(demo):
    async def scenario(client):
        return [
            await call(client, "houdini_node", path="/obj/nothing"),
            await call(client, "houdini_scene", limit="many"),
            await call(client, "houdini_set_parms", path="/obj/sphere1", parms={"t": 1, "nope": 2}),
            await call(client, "houdini_run_python", code="x = 1\ny = x / 0"),
            await call(client, "houdini_run_python", code="def broken(:"),
            await call(client, "houdini_job", job=999),
            await call(client, "houdini_scene", cursor="nonsense"),
        ]

    lines = [one_line_error(answer, error) for answer, error, _ in assistant(scenario, port=demo.port)]
    assert lines[0] == "LookupError: no node at '/obj/nothing'"
    assert lines[1].startswith("bad arguments - limit:")
    assert lines[2] == "ValueError: t takes 3 values: give a list of 3"
    assert lines[3].endswith("ZeroDivisionError: division by zero (line 2 of the code)"), lines[3]
    assert "SyntaxError" in lines[4]
    assert lines[5].startswith("no job 999 here")
    assert "not a cursor" in lines[6]


def test_without_houdini_every_tool_says_so_in_one_line():
    async def scenario(client):
        return await call(client, "houdini_scene")

    answer, error, _ = assistant(scenario, "--port", "1")
    assert "no hrpyc server at 127.0.0.1:1" in one_line_error(answer, error)


def test_a_large_scene_is_read_in_pages_each_bounded_and_every_node_once(demo):
    make = (
        "import hou\n"
        "for n in range(40):\n"
        "    geo = hou.node('/obj').createNode('geo')\n"
        "    for m in range(40):\n"
        "        geo.createNode('null')"
    )

    async def scenario(client):
        await call(client, "houdini_run_python", code=make)
        pages = [await call(client, "houdini_scene", path="/obj")]
        while pages[-1][0]["next_cursor"]:
            pages.append(await call(client, "houdini_scene", path="/obj", cursor=pages[-1][0]["next_cursor"]))
        shallow, _, _ = await call(client, "houdini_scene", path="/obj", max_depth=1)
        printed, _, _ = await call(client, "houdini_run_python", code="print('x' * 100000)")
        return pages, shallow, printed

    pages, shallow, printed = assistant(scenario, port=demo.port)
    paths = [row[0] for page, _, _ in pages for row in page["nodes"]]
    assert len(paths) == len(set(paths)) == 7 + 40 * 41
    assert len(pages) > 3 and all("next_cursor" in page["note"] for page, _, _ in pages[:-1])
    assert ["/obj/geo2", "geo", "", {"unlisted_children": 40}] in shallow["nodes"]
    assert len(printed["output"]) < 10000 and "of 100001" in printed["output_note"]


def test_a_session_with_an_auto_token_and_tls_is_reached_as_the_shell_reaches_it(tmp_path):
    pki = make_authority(str(tmp_path))
    cert, key = pki["server"]
    server = ServerProcess("--demo", "--token", "auto", "--certfile", cert, "--keyfile", key, PYTHONPATH=LIBS)
    try:
        answer, error, _ = assistant(
            lambda client: call(client, "houdini_run_python", code="result = 6 * 7"),
            "--cafile",
            pki["ca"],
            port=server.port,
        )
        refused, refused_error, _ = assistant(lambda client: call(client, "houdini_scene"), port=server.port)
    finally:
        server.close()
    assert not error and answer["result"] == 42
    one_line_error(refused, refused_error)  # no TLS asked for: the server's gate refuses


def test_in_a_graphical_houdini_changes_are_the_assistants_undo_steps_and_capture_works(gui_houdini):
    change = "import hou\nhou.node('/obj/sphere1').parm('scale').set(5.0)"  # the user's own edit

    async def scenario(client):
        await call(client, "houdini_run_python", code=change)
        await call(client, "houdini_set_parms", path="/obj/sphere1", parms={"tx": 1.5})
        await call(client, "houdini_create_node", parent="/obj", node_type="geo", name="made")
        labels, _, _ = await call(client, "houdini_run_python", code="import hou\nresult = hou.undos.undoLabels()[:3]")
        undone, _, _ = await call(client, "houdini_undo", steps=5)
        capture = await call(client, "houdini_capture", **SMALL)
        node, _, _ = await call(client, "houdini_node", path="/obj/sphere1")
        return labels, undone, capture, node

    labels, undone, (capture, error, _), node = assistant(scenario, port=gui_houdini.port)
    assert labels["result"] == ["houdini_create_node", "houdini_set_parms", "Change scale"]
    assert undone["undone"] == ["houdini_create_node", "houdini_set_parms"] and undone["next_undo"] == "Change scale"
    assert "not the assistant's" in undone["note"]
    assert not error, capture
    with open(capture["path"], "rb") as handle:
        assert png.blank(handle.read()) is None  # every PNG filter, decoded
    assert node["parms"] == {"scale": 5.0, "t": 1.5} and node["type"] == "geo"


def test_a_black_or_missing_capture_is_an_error_never_a_picture():
    for kind, said in (("black", "every pixel is the same colour (0, 0, 0)"), ("none", "wrote no image")):
        houdini = ServerProcess(session="gui_houdini.py", HOU_STANDIN_FLIPBOOK=kind)
        try:
            answer, error, _ = assistant(lambda client: call(client, "houdini_capture", **SMALL), port=houdini.port)
        finally:
            houdini.close()
        assert said in one_line_error(answer, error), answer


def test_in_hython_a_capture_says_there_is_no_viewport(server_process):
    answer, error, _ = assistant(lambda client: call(client, "houdini_capture"), port=server_process.port)
    assert one_line_error(answer, error).startswith("RuntimeError: no viewport: this Houdini has no UI (hython)")


def test_several_sessions_are_listed_and_one_is_chosen_with_houdini_sessions(demo):
    other = ServerProcess("--demo", PYTHONPATH=LIBS)
    try:

        async def scenario(client):
            refused = await call(client, "houdini_scene")
            listed, _, _ = await call(client, "houdini_sessions", use=other.port)
            pid = await call(client, "houdini_run_python", code="import os\nresult = os.getpid()")
            return refused, listed, pid

        refused, listed, (pid, _, _) = assistant(scenario)
    finally:
        other.close()
    assert "houdini_sessions(use=PORT)" in one_line_error(*refused[:2])
    assert {s["port"] for s in listed["sessions"]} == {demo.port, other.port}
    assert pid["result"] == other.proc.pid


def test_the_captures_folder_keeps_only_the_newest(monkeypatch):
    from hrpyc._cli import mcp_link

    monkeypatch.setattr(mcp_link, "CAPTURES_KEPT", 2)
    paths = [mcp_link._keep_capture(b"png", frame) for frame in (1, 2, 3)]
    assert [os.path.exists(path) for path in paths] == [False, True, True]
