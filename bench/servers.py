"""Servers for the benchmarks, each in its own process on 127.0.0.1, serving the stand-in `hou`
from tests/standin (there is no Houdini on these machines)."""

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
SESSIONS = os.path.join(TESTS, "sessions")
sys.path.insert(0, TESTS)

# SideFX's hrpyc.start_server, bound to loopback: rpyc's ThreadedServer with defaults, classic service.
from stock_server import StockServer  # noqa: E402 (the tests' stock server)


def private_state_dir():
    """Session records and tokens of the benchmark's servers go to a temporary folder, removed at exit,
    not to the user's own (unless HRPYC_STATE_DIR says where). Child processes inherit it."""
    if not os.environ.get("HRPYC_STATE_DIR", "").strip():
        folder = tempfile.mkdtemp(prefix="hrpyc-bench-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["HRPYC_STATE_DIR"] = folder
    return os.environ["HRPYC_STATE_DIR"]


def server_env(**extra):
    """A server's environment: ours (HRPYC_STATE_DIR included), with hrpyc and the stand-in hou importable."""
    paths = [os.path.join(ROOT, "python3.7libs"), os.path.join(TESTS, "standin")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), **extra)


class Process(object):
    def __init__(self, argv, **env):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=server_env(**env), text=True
        )
        match = re.search(r"serving on ([\d.]+):(\d+)", self.proc.stdout.readline())
        if not match:
            raise RuntimeError("benchmark server did not start")
        self.address = (match.group(1), int(match.group(2)))

    def close(self):
        self.proc.kill()
        self.proc.wait()


def stock_server():
    return StockServer(env=server_env())


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
