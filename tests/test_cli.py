"""`hrpyc serve | ping | shell` as a TD types them in a terminal."""

import os
import socket
import subprocess
import sys

import pytest
from conftest import ServerProcess, free_port, hrpyc_cli, need

import hrpyc
from hrpyc.rpyc_wire import RPYC_VERSION_STRING


@pytest.fixture(autouse=True)
def ipython_dir(tmp_path, monkeypatch):
    """IPython (when `hrpyc shell` uses it) keeps its history in a folder of the test's, not the home's."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))


PYTHON_WORDS = ("port=", "host=", "token=", "allow_insecure", "dispatch=", "timeout=", "certfile=", "cafile=")


def test_serve_prints_the_bound_address_and_ctrl_c_stops_it_cleanly():
    server = ServerProcess()
    try:
        assert hrpyc_cli("ping", "{}:{}".format(server.host, server.port)).returncode == 0
        code, out, err = server.interrupt()
    finally:
        server.close()
    assert code == 0, err
    assert "hrpyc: stopped" in out
    assert "Traceback" not in err


def test_ping_says_what_the_server_is_and_how_fast(server_process):
    result = hrpyc_cli("ping", "{}:{}".format(server_process.host, server_process.port))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "is alive" in line and "hrpyc 0.1" in line and "Python" in line and "rpyc" in line
    assert "round trip" in line and " ms" in line


def test_ping_recognises_a_stock_rpyc_server(stock_server):
    stock = stock_server(service="classic")
    result = hrpyc_cli("ping", "127.0.0.1:{}".format(stock.port))
    assert result.returncode == 0, result.stderr
    assert "stock rpyc classic server" in result.stdout


def test_ping_with_nobody_listening_is_one_line_and_exit_1():
    result = hrpyc_cli("ping", "127.0.0.1:{}".format(free_port()))
    assert result.returncode == 1
    assert result.stderr.startswith("hrpyc: no hrpyc server at 127.0.0.1:")
    assert result.stderr.count("\n") == 1


def test_shell_gives_a_prompt_where_hou_is_the_servers(server_process):
    result = hrpyc_cli(
        "shell",
        "{}:{}".format(server_process.host, server_process.port),
        stdin="print(hou.node('/obj/sphere1').path())\nprint(connection.modules.os.getpid())\n",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert "/obj/sphere1" in lines
    assert str(server_process.proc.pid) in lines


@pytest.mark.parametrize(
    "args",
    [
        ("frobnicate",),
        ("ping", "localhost:notaport"),
        ("ping", "localhost:99999"),
        ("serve", "--port", "abc"),
    ],
)
def test_bad_arguments_print_usage_and_exit_2(args):
    result = hrpyc_cli(*args)
    assert result.returncode == 2
    assert "usage: hrpyc" in result.stderr


def test_the_console_script_is_installed():
    import shutil
    import sysconfig

    script = shutil.which("hrpyc", path=sysconfig.get_path("scripts"))  # python's folder or its Scripts
    assert script, "pip install should put an hrpyc command where python's scripts go"
    result = subprocess.run([script, "--help"], stdout=subprocess.PIPE, text=True)
    assert result.returncode == 0 and "serve" in result.stdout


def test_bare_hrpyc_lists_the_verbs_and_exits_0():
    result = hrpyc_cli()
    assert result.returncode == 0 and result.stderr == ""
    for verb in ("serve", "ping", "shell", "sessions", "panel", "install"):
        assert verb in result.stdout


def test_version_says_hrpyc_python_and_rpyc():
    result = hrpyc_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "hrpyc {} (Python {}, rpyc {})".format(
        hrpyc.__version__, sys.version.split()[0], RPYC_VERSION_STRING
    )


def _says_in_flags(result, *flags):
    """One line naming the flags to type, in none of the Python API's words."""
    assert result.returncode == 1, result.stderr
    line = result.stderr
    assert line.startswith("hrpyc: ") and line.count("\n") == 1, line
    for flag in flags:
        assert flag in line, line
    assert not [word for word in PYTHON_WORDS if word in line], line


@pytest.mark.parametrize(
    "args, flags",
    [
        (("--host", "0.0.0.0"), ("--token auto", "--allow-insecure")),
        (("--host", "192.0.2.1", "--token", "s3cret"), ("--host 127.0.0.1",)),  # not an address of this machine
        (("--host", "bad..host", "--token", "s3cret"), ("cannot listen on bad..host", "--host 127.0.0.1")),
        (("--dispatch", "main"), ("--dispatch main", "--dispatch auto")),
        (("--certfile", "/no/such/cert.pem"), ("--certfile /no/such/cert.pem",)),
        (("--keyfile", __file__), ("--certfile is missing",)),
        (("--certfile", __file__), ("--certfile {}".format(__file__), "PEM")),
        (("--cafile", "/no/such/ca.pem"), ("--cafile /no/such/ca.pem",)),
    ],
)
def test_serve_errors_name_the_flag_to_use(args, flags):
    _says_in_flags(hrpyc_cli("serve", "--port", "0", *args), *flags)


def test_a_taken_port_says_use_port_0():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        _says_in_flags(hrpyc_cli("serve", "--port", str(port)), "127.0.0.1:{}".format(port), "--port 0")


@pytest.mark.parametrize(
    "args, flags",
    [
        (("--timeout", "soon"), ("--timeout soon",)),
        (("--timeout", "-1"), ("--timeout -1",)),
        (("--cafile", "/no/such/ca.pem"), ("--cafile /no/such/ca.pem",)),
    ],
)
def test_ping_and_shell_errors_name_the_flag_to_use(args, flags):
    for verb in ("ping", "shell"):
        _says_in_flags(hrpyc_cli(verb, "127.0.0.1:{}".format(free_port()), *args), *flags)


def test_a_missing_or_wrong_token_says_use_token():
    server = ServerProcess("--token", "s3cret")
    try:
        address = "{}:{}".format(server.host, server.port)
        _says_in_flags(hrpyc_cli("ping", address), "--token")
        _says_in_flags(hrpyc_cli("ping", address, "--token", "wrong"), "--token", "--token auto")
        assert hrpyc_cli("ping", address, "--token", "s3cret").returncode == 0
    finally:
        server.close()


def test_several_sessions_say_pass_host_port():
    first, second = ServerProcess(), ServerProcess()
    try:
        _says_in_flags(hrpyc_cli("ping"), str(first.port), str(second.port), "pass HOST:PORT")
    finally:
        first.close()
        second.close()


# What a TD types into `hrpyc shell`: a call that works, two errors raised in the server, one made here,
# then a server that dies under the next call, and a line that must never run.
SESSION = (
    "print(hou.node('/obj/sphere1').path())\n"
    "connection.eval('1/0')\n"
    "hou.hscript('opadd geo')\n"
    "print(undefined_here)\n"
    "connection.modules.os.kill(connection.modules.os.getpid(), 9)\n"
    "print('still ' + 'here')\n"
)


def _shell_session(server, **env):
    result = hrpyc_cli("shell", "{}:{}".format(server.host, server.port), stdin=SESSION, **env)
    out, err = result.stdout, result.stderr
    assert "/obj/sphere1" in out and "still here" not in out + err
    assert result.returncode == 1  # the connection was lost: not a clean Ctrl-D
    assert "hrpyc: the server at {}:{} closed the connection".format(server.host, server.port) in err
    assert err.rstrip().splitlines()[-1].startswith("hrpyc: the server at")  # and that line is the last
    # Errors raised in the server: its traceback once each, the server's frames only (not rpyc's or ours)
    assert err.count("Traceback in the server (most recent call last):") == 2
    assert "ZeroDivisionError: division by zero" in err
    assert 'File "<string>", line 1' in err and ", in hscript\n" in err and "NotImplementedError: " in err
    frames = [line for line in err.splitlines() if line.startswith("  File ")]
    assert "Remote Traceback" not in err and [frame for frame in frames if "rpyc" in frame] == []
    assert "NameError" in out + err  # an error made here prints as Python's own
    return out, err


@pytest.fixture
def without_ipython(tmp_path):
    """The environment of a Python where IPython cannot be imported, installed or not."""
    hidden = tmp_path / "no-ipython" / "IPython"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named IPython')\n")
    return {"PYTHONPATH": os.pathsep.join([str(hidden.parent), os.environ.get("PYTHONPATH", "")])}


def test_shell_banner_says_the_prompt_runs_here_and_hou_is_the_servers(server_process, without_ipython):
    address = "{}:{}".format(server_process.host, server_process.port)
    result = hrpyc_cli("shell", address, stdin="", **without_ipython)
    assert result.returncode == 0, result.stderr  # Ctrl-D (end of input) leaves cleanly
    banner = result.stderr.splitlines()[0]
    assert banner.startswith("hrpyc shell: this prompt runs here")
    assert "`hou` and `connection` are the server's" in banner
    assert address in banner and "Ctrl-D" in banner


def test_shell_without_ipython_ends_with_one_line_when_the_server_dies(server_process, without_ipython):
    out, err = _shell_session(server_process, **without_ipython)
    assert ">>> " in out + err and "In [" not in out  # the standard library's prompt


def test_shell_uses_ipython_when_installed_and_ends_with_one_line_when_the_server_dies(server_process):
    need("IPython", "hrpyc shell uses IPython when it is installed")
    out, _ = _shell_session(server_process)
    assert "In [1]" in out
