"""`hrpyc serve --demo`: trying hrpyc, and testing client code, without Houdini - a demo scene served as
`hou` that says wherever it speaks that it is not Houdini, and never runs unless asked."""

import os
import re
import shutil
import socket
import subprocess
import sys

import pytest
from conftest import LIBS, ServerProcess, child_env, hrpyc_cli, need

import hrpyc

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
LABEL = "hrpyc (demo, not Houdini): "


def readme_python(after):
    """The README's first ```python block after the text `after`."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    start = text.index("```python\n", text.index(after)) + len("```python\n")
    return text[start : text.index("```", start)]


def run_client(tmp_path, code, python=sys.executable):
    """`code` as a user's script, in a plain Python of its own (no hou there, not even the tests' stand-in);
    returns what it printed."""
    script = tmp_path / "client.py"
    script.write_text(code)
    result = subprocess.run(
        [python, str(script)], capture_output=True, text=True, env=child_env(PYTHONPATH=LIBS), timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def demo():
    """`hrpyc serve --demo` in a plain Python, where no hou could be imported."""
    server = ServerProcess("--demo", PYTHONPATH=LIBS)
    yield server
    server.close()


def test_the_readmes_first_example_works_against_serve_demo(demo, tmp_path):
    first = readme_python("# hrpyc")
    example = first[first.index("# in Maya, Nuke") :]
    out = run_client(tmp_path, example + 'print(hou.node("/obj/sphere1").parm("scale").eval())\n')
    assert out.split() == ["2.0"]


# Interpreters with other rpyc versions and no numpy (.ci/run builds them); this one always takes part.
CLIENTS = [sys.executable] + [p for p in os.environ.get("HRPYC_TEST_CLIENTS", "").split(os.pathsep) if p]


@pytest.mark.parametrize("python", CLIENTS, ids=lambda p: os.path.basename(os.path.dirname(os.path.dirname(p))))
def test_try_it_in_two_minutes_runs_in_any_client_and_prints_what_its_comments_say(demo, tmp_path, python):
    lines = run_client(tmp_path, readme_python("## Try it in two minutes"), python).splitlines()
    assert lines[0] == "['/obj/sphere1', '/obj/geo1', '/obj/cam1']"
    assert lines[1].startswith("24.0 ") and lines[1].endswith("untitled.hip")
    assert lines[2:] == ["74", "yes"]


def _parms(root, name):
    import hou

    return {n.path(): n.parm(name).eval() for n in hou.node(root).children()}


def test_run_and_fetch_attrib_work_on_geometry_cooked_from_the_demos_parameters(demo):
    numpy = need("numpy", "fetch_attrib returns numpy arrays")
    conn, hou = hrpyc.import_remote_module(demo.host, demo.port)
    assert hrpyc.run(conn, _parms, "/obj", "tx") == {"/obj/sphere1": 0.0, "/obj/geo1": 0.0, "/obj/cam1": 0.0}
    assert hrpyc.run(conn, "import hou\nhou.setFrame(12)\nresult = hou.frame()") == 12.0 == hou.frame()

    grid = hou.node("/obj/geo1/grid1")
    grid.parmTuple("size").set((2, 4))
    grid.parm("rows").set(3)
    grid.parm("cols").set(4)
    points = hrpyc.fetch_attrib(conn, "/obj/geo1/OUT", "P")
    assert points.shape == (12, 3) and points.dtype == numpy.float32
    assert points.min(axis=0).tolist() == [-1, 0, -2] and points.max(axis=0).tolist() == [1, 0, 2]
    assert hrpyc.fetch_attrib(conn, "/obj/geo1/OUT", "id", kind="prim").ravel().tolist() == [0, 1, 2, 3, 4, 5]

    hou.node("/obj/sphere1/sphere1").parmTuple("rad").set((2, 2, 2))
    radii = numpy.linalg.norm(hrpyc.fetch_attrib(conn, "/obj/sphere1/sphere1", "P"), axis=1)
    assert radii.shape == (266,) and numpy.allclose(radii, 2)
    with pytest.raises(ValueError, match="no vertex attribute 'P'"):
        hrpyc.fetch_attrib(conn, "/obj/geo1/OUT", "P", kind="vertex")
    conn.close()


def test_the_demo_answers_as_hou_does_where_client_code_relies_on_it(demo):
    conn, hou = hrpyc.import_remote_module(demo.host, demo.port)
    sphere = hou.node("/obj/sphere1")
    assert sphere == hou.node("/obj/sphere1") and sphere in hou.node("/obj").children()
    assert sphere.type().name() == "geo" and sphere.node("sphere1").path() == "/obj/sphere1/sphere1"
    assert hou.node("/obj/nothing") is None and hou.node("/obj/sphere1/..") == hou.node("/obj")
    sphere.parmTuple("t").set((1, 2, 3))
    assert sphere.parmTuple("t").eval() == (1.0, 2.0, 3.0) and sphere.parm("ty").eval() == 2.0
    assert hou.hipFile.hasUnsavedChanges()
    hou.hipFile.save()
    assert not hou.hipFile.hasUnsavedChanges()
    made = hou.node("/obj").createNode("geo")
    assert made.path() == "/obj/geo2" and hou.node("/obj/geo2") == made
    made.destroy()
    assert hou.node("/obj/geo2") is None
    with pytest.raises(Exception, match="Invalid node type name 'bogus'"):
        hou.node("/obj").createNode("bogus")
    conn.close()


def test_stock_rpyc_clients_get_the_demo_as_hou_too(demo):
    import rpyc

    conn = rpyc.classic.connect(demo.host, demo.port)
    assert conn.modules.hou.node("/obj/geo1/OUT").geometry().points()[0].position()[0] == -5.0
    conn.close()


def test_ping_sessions_and_server_info_say_it_is_a_demo_not_houdini(demo):
    ping = hrpyc_cli("ping", "{}:{}".format(demo.host, demo.port))
    assert ping.returncode == 0, ping.stderr
    assert (
        "is alive: hrpyc {} in a plain Python serving a demo scene, not Houdini (pid".format(hrpyc.__version__)
        in ping.stdout
    )
    sessions = hrpyc_cli("sessions")
    assert "the demo scene (Python {}), not Houdini".format(sys.version.split()[0]) in sessions.stdout
    conn, hou = hrpyc.import_remote_module(demo.host, demo.port)
    assert conn.server_info["demo"] == "yes" and conn.server_info["houdini"] == "demo"
    assert hou.applicationName() == "hrpyc demo" and hou.__name__ == "hrpyc._houdini.demo"
    conn.close()


def test_every_line_serve_demo_prints_says_it_is_a_demo_not_houdini():
    server = ServerProcess("--demo", "-v", PYTHONPATH=LIBS)
    try:
        hint = server.proc.stdout.readline()
        hrpyc.connect(server.host, server.port).close()
        code, out, err = server.interrupt()
    finally:
        server.close()
    lines = [server.first_line, hint, *out.splitlines(), *err.splitlines()]
    assert code == 0, err
    assert all(line.startswith(LABEL) for line in lines), lines
    assert LABEL + "client 127.0.0.1:" in err and out.splitlines()[-1] == LABEL + "stopped"


def test_a_demo_that_cannot_start_says_so_as_the_demo_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        result = hrpyc_cli("serve", "--demo", "--port", str(taken.getsockname()[1]), PYTHONPATH=LIBS)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(LABEL + "127.0.0.1:") and result.stderr.count("\n") == 1, result.stderr


def test_the_demo_never_hides_houdinis_own_hou():
    # hython, played by the tests' stand-in: its hou is loaded before anything of ours runs
    code = "import hou, sys\nfrom hrpyc._cli.main import main\nsys.exit(main(['serve', '--demo', '--port', '0']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(LABEL) and result.stderr.count("\n") == 1, result.stderr
    assert "without --demo" in result.stderr


def test_a_server_not_asked_for_the_demo_serves_no_hou_and_never_loads_it():
    server = ServerProcess(PYTHONPATH=LIBS)
    try:
        with pytest.raises(hrpyc.RemoteImportError):
            hrpyc.import_remote_module(server.host, server.port)
        conn = hrpyc.connect(server.host, server.port)
        loaded = conn.modules.sys.modules
        assert "hou" not in loaded and "hrpyc._houdini.demo" not in loaded and "demo" not in conn.server_info
        conn.close()
    finally:
        server.close()


# --- every Python example of the README, run as written against the demo

# The README names machines of a studio; here they are this machine, and SideFX's port 18811 is the port
# of the session playing Houdini (a fixed port would meet another test's, or a TD's own Houdini).
MACHINES = ("render07", "node12", "ws042")
ROUTES = """import socket as _socket
_getaddrinfo = _socket.getaddrinfo


def _routed(host, port, *args, **kwargs):
    host = "127.0.0.1" if host in {machines!r} else host
    if host in ("127.0.0.1", "localhost") and port in (18811, "18811"):
        port = {port}
    return _getaddrinfo(host, port, *args, **kwargs)


_socket.getaddrinfo = _routed
"""
# A part under `# in Houdini`: run in a plain Python whose hou is the demo (as hython's is Houdini's), its
# start_server() taking a free port for SideFX's 18811; then it serves until its stdin closes.
PLAYS_HOUDINI = """import sys

import hrpyc as _hrpyc
from hrpyc._houdini import houdini as _houdini

_houdini.use_demo()
_start_server = _hrpyc.start_server
_hrpyc.start_server = lambda port=18811, *args, **kwargs: _start_server(0 if port == 18811 else port, *args, **kwargs)
"""
SERVES = """
print("serving on {}:{}".format(*_hrpyc.running_server().address), flush=True)
sys.stdin.read()
"""
NOT_RUN = re.compile(r"<!-- example not run: (?P<why>[^>]+) -->\n$")  # the mark for what needs a real Houdini


def readme_examples():
    """Each ```python block of the README: (line, code, why it is not run or None)."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        mark = NOT_RUN.search(text, 0, match.start())
        why = mark.group("why") if mark is not None and mark.end() == match.start() else None
        yield text.count("\n", 0, match.start()) + 1, match.group(1), why


def parts(code):
    """The block cut at its `# in ...` lines: [(plays Houdini?, code)]; no such line: one client part."""
    found, side, lines = [], False, []
    for line in code.splitlines(keepends=True):
        if line.startswith("# in ") and lines and any(text.strip() for text in lines):
            found.append((side, "".join(lines)))
            lines = []
        if line.startswith("# in "):
            side = line.startswith("# in Houdini")
        lines.append(line)
    return found + [(side, "".join(lines))]


class _Serving(object):
    """A session playing Houdini, in `folder` (its scene's folder): `hrpyc serve --demo`, or a part under
    `# in Houdini`."""

    def __init__(self, folder, code=None):
        argv = ["-m", "hrpyc", "serve", "--demo", "--port", "0"]
        if code is not None:
            (folder / "houdini_part.py").write_text(PLAYS_HOUDINI + code + SERVES)
            argv = [str(folder / "houdini_part.py")]
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(folder),
            env=child_env(PYTHONPATH=LIBS),
        )
        line = self.proc.stdout.readline()
        found = re.search(r"serving on \S+:(\d+)", line)
        if found is None:
            said = self.close()
            raise AssertionError("it did not serve:\n{}{}".format(code or "", said))
        self.port = int(found.group(1))

    def close(self):
        """Stop it; what it wrote to stderr."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.communicate()[1]


def _tls_files(folder):
    """The files the README's TLS example names, signed by a throwaway CA, the server's for ws042."""
    from certs import make_authority

    made = make_authority(str(folder / "ca"), names=("ws042",))
    for name, path in (
        ("studio-ca.pem", made["ca"]),
        ("houdini.pem", made["server"][0]),
        ("houdini.key", made["server"][1]),
        ("td.pem", made["client"][0]),
        ("td.key", made["client"][1]),
    ):
        shutil.copy(path, str(folder / name))


EXAMPLES = list(readme_examples())


@pytest.mark.parametrize("line, code, why", EXAMPLES, ids=["README.md:{}".format(e[0]) for e in EXAMPLES])
def test_every_python_example_in_the_readme_runs_as_written_against_the_demo(line, code, why, tmp_path):
    """A part under `# in Houdini` serves (the demo as its hou); every other part is a client's script, run
    against the last Houdini part before it, or against `hrpyc serve --demo`."""
    if why is not None:
        assert "Houdini" in why, "a README example is run, or marked as needing a real Houdini"
        return
    if "certfile=" in code:
        need("cryptography", "the README's TLS example needs certificates made for it")
        (tmp_path / "ca").mkdir()
        _tls_files(tmp_path)
    houdini = None
    try:
        for plays_houdini, part in parts(code):
            if plays_houdini or houdini is None:
                if houdini is not None:
                    houdini.close()  # one session at a time: a client without a port finds the only one
                houdini = _Serving(tmp_path, part if plays_houdini else None)
                if plays_houdini:
                    continue
            script = tmp_path / "client_part.py"
            script.write_text(ROUTES.format(machines=MACHINES, port=houdini.port) + part)
            result = subprocess.run(
                [sys.executable, str(script)],
                capture_output=True,
                text=True,
                cwd=str(tmp_path),
                env=child_env(PYTHONPATH=LIBS),
                timeout=120,
            )
            assert result.returncode == 0, "README.md:{}:\n{}\n{}".format(line, part, result.stderr)
    finally:
        if houdini is not None:
            houdini.close()


def test_the_demo_has_what_the_readmes_examples_use_lights_a_rop_and_string_parameters(demo):
    conn, hou = hrpyc.import_remote_module(demo.host, demo.port)
    light = hou.node("/obj").createNode("hlight", "key")
    light.parm("light_intensity").set(2)
    assert light.type().name() == "hlight" and light.parm("light_intensity").eval() == 2.0
    assert light.parmTuple("light_color").eval() == (1.0, 1.0, 1.0)
    rop = hou.node("/out/cache1")
    assert rop.parm("soppath").eval() == "/obj/geo1/OUT"
    hou.setFrame(12)
    assert rop.parm("sopoutput").eval().endswith("/geo/untitled.0012.bgeo.sc")
    assert rop.parm("sopoutput").unexpandedString() == "$HIP/geo/$HIPNAME.$F4.bgeo.sc"
    rop.render(frame_range=(1, 3))
    assert hou.frame() == 12.0  # put back, as Houdini does
    rop.parm("soppath").set("/obj/nothing")
    with pytest.raises(Exception, match="not a geometry node"):
        rop.render()
    with pytest.raises(TypeError):
        rop.parm("soppath").set(1.0)
    conn.close()
