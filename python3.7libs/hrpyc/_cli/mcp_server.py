"""Client side: `hrpyc mcp`, an MCP server over stdio for AI assistants (the official `mcp` SDK, 2.x: the
`hrpyc[mcp]` extra, Python 3.10+). It is a client of the user's own Houdini with the user's own
credentials, as `hrpyc shell` is, and listens on nothing: it never widens who can reach Houdini.

The tools' work is in mcp_link (blocking, run here in worker threads) and mcp_tools (run in Houdini);
this module names the tools, describes them to the assistant, and turns every answer into bounded JSON
text and every failure into a one-line tool error (MCP isError), never a traceback. This module imports
the SDK only when the server is built, so the rest of hrpyc never needs it.
"""

import base64
import json
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from hrpyc._cli.mcp_link import CHANGE_TOOLS, Link, ToolError
from hrpyc._common.printable import printable
from hrpyc._houdini import mcp_tools
from hrpyc._wire.job_states import FAILED
from hrpyc.errors import HrpycError

MAX_ANSWER = 16000  # characters of one answer's text; each tool bounds its parts below this
BUDGET = 12000  # characters of JSON a scene page or a node's parameters may take
ERROR_LINE = 1000  # characters of a tool error
IMAGE_INLINE = 256 << 10  # bytes of PNG sent along with a capture's path
RUN_WAIT, JOB_WAIT, MAX_WAIT = 20.0, 10.0, 50.0  # seconds a call waits for a job (MCP clients give up ~60)
PROGRESS_EVERY = 1.0  # seconds between progress notifications of a waiting call
READ_TOOLS = ("houdini_sessions", "houdini_scene", "houdini_node", "houdini_capture")
INSTALL = "pip install 'hrpyc[mcp]'"
INSTRUCTIONS = """These tools drive the user's running Houdini (or hrpyc's demo scene) through hrpyc.
houdini_scene and houdini_node read the node tree; houdini_set_parms, houdini_create_node, houdini_connect
and houdini_delete change it, each call one undo step that houdini_undo can take back. houdini_run_python
runs any Python in Houdini with `hou` (assign `result` to return a value); work longer than its wait goes
on as a job: follow it with houdini_job, stop it with houdini_cancel. houdini_capture saves the viewport
as a PNG. Answers are JSON, bounded in size; they say when something was cut."""


def main(
    host: str, port: Optional[int], token: Optional[str], cafile: Optional[str], read_only: bool, spell: Any
) -> int:
    """`hrpyc mcp`: serve the tools on stdin/stdout until the assistant closes them."""
    server = build(Link(host, port, token, cafile, spell), read_only)
    server.run("stdio")
    return 0


def sdk() -> Any:
    """The MCP SDK's server class; HrpycError (one line, how to install it) when it cannot be had."""
    if sys.version_info < (3, 10):
        raise HrpycError(
            "hrpyc mcp needs Python 3.10 or newer (the MCP SDK's), and this is {}: run it from a newer "
            "Python, after {} there".format(sys.version.split()[0], INSTALL)
        )
    try:
        from mcp.server import MCPServer
    except ImportError:
        raise HrpycError("hrpyc mcp needs the MCP SDK 2.x (mcp.server.MCPServer): {}".format(INSTALL)) from None
    return MCPServer


def progress_report(elapsed: float, progress: Any) -> Tuple[float, Optional[float], str]:
    """An MCP progress notification (progress, total, message) for a job `elapsed` seconds in: progress
    counts seconds, so it grows with every notification as MCP wants; once the job reports its own
    progress (hrpyc.progress: (fraction, message)), total is the seconds that fraction predicts, so
    progress / total is the job's fraction."""
    fraction, message = progress if isinstance(progress, (tuple, list)) and len(progress) == 2 else (None, None)
    total = None
    if isinstance(fraction, (int, float)) and 0 < fraction <= 1:
        total = elapsed / fraction
    return elapsed, total, str(message) if message else "running for {:.0f} s".format(elapsed)


def build(link: Link, read_only: bool) -> Any:
    """The MCP server: every tool, or with `read_only` those that change nothing."""
    base = sdk()
    import anyio
    from mcp.server.mcpserver import Context
    from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations

    def text(answer: Dict[str, Any], error: bool = False) -> CallToolResult:
        """An answer as JSON text (an error as its line), bounded; says so when cut."""
        body = answer["error"] if error else json.dumps(answer, ensure_ascii=False, default=str)
        if len(body) > MAX_ANSWER:
            body = body[: MAX_ANSWER - 80] + " ... [answer cut: {} of {} characters shown]".format(
                MAX_ANSWER - 80, len(body)
            )
        return CallToolResult(content=[TextContent(type="text", text=body)], is_error=error)

    def failed(line: str) -> CallToolResult:
        return text({"error": printable(" ".join(line.split()), ERROR_LINE) or "failed"}, error=True)

    async def work(function: Any, *args: Any) -> Any:
        """Run a blocking part in a worker thread."""
        return await anyio.to_thread.run_sync(lambda: function(*args))

    class Server(base):  # type: ignore[misc, valid-type]  # the SDK's class, found when the server is built
        async def call_tool(self, name: str, arguments: Dict[str, Any], context: Any = None) -> Any:
            """Every failure as one line, arguments the schema refused included."""
            try:
                return await super().call_tool(name, arguments, context)
            except Exception as exc:
                return failed(_why(exc, link))

    server = Server("hrpyc", instructions=INSTRUCTIONS, log_level="WARNING")

    def tool(name: str, read: bool, title: str, destructive: bool = False) -> Any:
        if read_only and not read:
            return lambda function: function
        hints = ToolAnnotations(
            title=title, read_only_hint=read, destructive_hint=destructive, idempotent_hint=read, open_world_hint=False
        )
        return server.tool(name=name, annotations=hints)

    @tool("houdini_sessions", True, "Houdini sessions")
    async def houdini_sessions(use: Optional[int] = None) -> CallToolResult:
        """The Houdini sessions of this user on this machine (port, pid, Houdini version, scene), and which
        one the tools use. `use`: a port from the list, to work with that session from now on."""
        return text(await work(link.sessions, use))

    @tool("houdini_run_python", False, "Run Python in Houdini", destructive=True)
    async def houdini_run_python(code: str, ctx: Context, wait: float = RUN_WAIT) -> CallToolResult:
        """Run a Python code block in Houdini, where `hou` is importable, as the user's own Python shell
        would: assign the variable `result` to return a value (plain data: numbers, text, lists, dicts).
        Answers when it ends with its result and what it printed, or after `wait` seconds (at most 50)
        with its job id while it runs on: then houdini_job follows it and houdini_cancel stops it."""
        job = await work(link.start, code)
        started, deadline = time.monotonic(), time.monotonic() + _seconds(wait)
        while not await work(link.wait, job, min(PROGRESS_EVERY, max(0.0, deadline - time.monotonic()))):
            progress = await work(link.progress, job)
            await ctx.report_progress(*progress_report(time.monotonic() - started, progress))
            if time.monotonic() >= deadline:
                break
        answer = await work(link.report, job)
        if "error" in answer and answer["state"] == FAILED:
            printed = "; houdini_job(job={}) shows what it printed".format(job.id) if answer["output"] else ""
            return failed("job {} failed: {}{}".format(job.id, answer["error"], printed))
        return text(answer)

    @tool("houdini_job", False, "Follow a job")
    async def houdini_job(job: int, wait: float = JOB_WAIT, output_from: Optional[int] = None) -> CallToolResult:
        """A job's state, progress, output so far, and its result or error once it ended; waits up to `wait`
        seconds (at most 50) for it to end first. `output_from`: read its output from that character on
        (by default its last part)."""
        found = await work(link.job, job)
        await work(link.wait, found, _seconds(wait))
        return text(await work(link.report, found, output_from))

    @tool("houdini_cancel", False, "Cancel a job")
    async def houdini_cancel(job: int) -> CallToolResult:
        """Stop a job: dropped if it has not started, stopped at its next Python line if it runs (a cook or
        render in progress finishes first). Answers with its state afterwards."""
        return text(await work(link.cancel, await work(link.job, job)))

    @tool("houdini_scene", True, "Read the node tree")
    async def houdini_scene(
        path: str = "/obj", cursor: Optional[str] = None, max_depth: Optional[int] = None, limit: int = 500
    ) -> CallToolResult:
        """The nodes under `path`, depth first: each row [path, type, flags] with a fourth item for errors,
        warnings or children left unlisted. `max_depth` levels below `path` (default: all); at most `limit`
        rows a page; pass the answer's next_cursor to read the next page of a large scene."""
        limit = max(1, min(int(limit), 2000))
        depth = None if max_depth is None else max(0, int(max_depth))
        return text(await work(link.call, "houdini_scene", mcp_tools.scene, path, cursor, depth, limit, BUDGET))

    @tool("houdini_node", True, "Read one node")
    async def houdini_node(path: str, parm_filter: Optional[str] = None, changed_only: bool = False) -> CallToolResult:
        """One node: type, flags, inputs, outputs, errors and warnings, cook state, and its parameters'
        values (as many as fit; `parm_filter` a glob on their names such as "t*", `changed_only` those
        not at their default)."""
        args = (path, parm_filter, changed_only, BUDGET)
        return text(await work(link.call, "houdini_node", mcp_tools.node_info, *args))

    @tool("houdini_set_parms", False, "Set parameters", destructive=True)
    async def houdini_set_parms(path: str, parms: Dict[str, Any]) -> CallToolResult:
        """Set a node's parameters: {"tx": 1.5} for one, {"t": [0, 1, 0]} for a tuple; all or none. One
        undo step."""
        return text(await work(link.change, "houdini_set_parms", mcp_tools.set_parms, path, parms))

    @tool("houdini_create_node", False, "Create a node")
    async def houdini_create_node(parent: str, node_type: str, name: Optional[str] = None) -> CallToolResult:
        """Create a node of `node_type` (e.g. "geo" in /obj, "box" in a geo) inside `parent`. One undo step."""
        args = (parent, node_type, name)
        return text(await work(link.change, "houdini_create_node", mcp_tools.create_node, *args))

    @tool("houdini_connect", False, "Wire two nodes", destructive=True)
    async def houdini_connect(source: str, target: str, input_index: int = 0, output_index: int = 0) -> CallToolResult:
        """Wire `source`'s output `output_index` into `target`'s input `input_index`. One undo step."""
        args = (source, target, int(input_index), int(output_index))
        return text(await work(link.change, "houdini_connect", mcp_tools.connect, *args))

    @tool("houdini_delete", False, "Delete nodes", destructive=True)
    async def houdini_delete(paths: List[str]) -> CallToolResult:
        """Delete nodes (all of them, or none if one is missing). One undo step."""
        return text(await work(link.change, "houdini_delete", mcp_tools.delete, list(paths)))

    @tool("houdini_undo", False, "Undo the assistant's changes", destructive=True)
    async def houdini_undo(steps: int = 1) -> CallToolResult:
        """Undo the assistant's last `steps` changes (houdini_set_parms, _create_node, _connect, _delete):
        stops at the first undo step that is not one of them, so the user's own work is never undone."""
        args = (max(1, min(int(steps), 100)), list(CHANGE_TOOLS))
        return text(await work(link.call, "houdini_undo", mcp_tools.undo, *args))

    @tool("houdini_capture", True, "Capture the viewport")
    async def houdini_capture(width: int = 800, height: int = 450, include_image: bool = True) -> CallToolResult:
        """The viewport at the current frame as a PNG file on this machine (its path), and the image itself
        when it is small and `include_image`. Needs a graphical Houdini; a blank or black picture is an
        error, never a capture."""
        size = (max(16, min(int(width), 3840)), max(16, min(int(height), 2160)))
        path, data, frame = await work(link.capture, *size)
        answer = {"path": path, "frame": frame, "width": size[0], "height": size[1], "bytes": len(data)}
        result = text(answer)
        if include_image and len(data) <= IMAGE_INLINE:
            image = ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type="image/png")
            result.content.append(image)
        elif include_image:
            answer["note"] = "the image is over {} kB: read it from path".format(IMAGE_INLINE >> 10)
            result = text(answer)
        return result

    return server


def _seconds(wait: Any) -> float:
    """A wait the assistant asked for, within 0 and MAX_WAIT (NaN: 0)."""
    seconds = float(wait)
    return min(seconds, MAX_WAIT) if seconds >= 0 else 0.0


def _why(exc: BaseException, link: Link) -> str:
    """A tool's failure in one line: ours as it is, the SDK's refusal of the arguments field by field."""
    cause = exc.__cause__ or exc
    refused = getattr(cause, "errors", None)
    if callable(refused):  # pydantic's ValidationError: the arguments
        errors: Any = refused()
        fields = ["{}: {}".format(".".join(str(p) for p in error["loc"]), error["msg"]) for error in errors]
        return "bad arguments - " + "; ".join(fields)
    return str(cause) if isinstance(cause, ToolError) else link.error(cause)
