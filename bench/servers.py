"""Servers for the benchmarks, each in its own process on 127.0.0.1, serving the stand-in `hou`
from tests/standin (there is no Houdini on these machines)."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(
    os.environ,
    PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python3.7libs"), os.path.join(ROOT, "tests", "standin")]),
)

# SideFX's hrpyc.start_server, bound to loopback: rpyc's ThreadedServer with defaults, classic service.
STOCK = """
import sys
from rpyc.utils.classic import SlaveService
from rpyc.utils.server import ThreadedServer
server = ThreadedServer(SlaveService, hostname="127.0.0.1", port=0, reuse_addr=True, protocol_config={})
server._listen()
print("serving on 127.0.0.1:%d" % server.port, flush=True)
server.start()
"""


SESSIONS = os.path.join(ROOT, "tests", "sessions")


class Process(object):
    def __init__(self, argv, **env):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(ENV, **env), text=True
        )
        match = re.search(r"serving on ([\d.]+):(\d+)", self.proc.stdout.readline())
        if not match:
            raise RuntimeError("benchmark server did not start")
        self.address = (match.group(1), int(match.group(2)))

    def close(self):
        self.proc.kill()
        self.proc.wait()


def stock_server():
    return Process([sys.executable, "-c", STOCK])


def hrpyc_server(dispatch="thread", **env):
    """hrpyc serving with requests on connection threads ('thread'), on the main thread of a stand-in
    graphical Houdini ('main', through the stand-in hdefereval), or of a real Qt application ('qt')."""
    if dispatch == "thread":
        return Process([sys.executable, "-m", "hrpyc", "serve", "--port", "0"], **env)
    script = {"main": "gui_houdini.py", "qt": "qt_app.py"}[dispatch]
    return Process([sys.executable, os.path.join(SESSIONS, script)], **env)


class SideFXHou(object):
    """SideFX's client wrapper: every call of a hou.* function is bracketed by
    hou._syncFromMainContext() and hou._syncToMainContext(), each looked up and called remotely."""

    def __init__(self, hou):
        self._hou = hou

    def __getattr__(self, name):
        attr = getattr(self._hou, name)
        if not callable(attr):
            return attr
        hou = self._hou

        def call(*args, **kwargs):
            hou._syncFromMainContext()
            try:
                return attr(*args, **kwargs)
            finally:
                hou._syncToMainContext()

        return call
