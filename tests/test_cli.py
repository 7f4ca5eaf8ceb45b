"""`hrpyc serve | ping | shell` as a TD types them in a terminal."""

import os
import queue
import socket
import subprocess
import sys
import threading

import pytest
import rpyc
from conftest import (
    LIBS,
    STANDIN,
    ServerProcess,
    child_env,
    ctrl_c_able,
    free_port,
    hrpyc_cli,
    need,
    send_ctrl_c,
    wait_for,
)

import hrpyc
from hrpyc._wire.rpyc_versions import RPYC_VERSION_STRING


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
        (("--host", "192.0.2.1", "--token", "s3cret-token"), ("--host 127.0.0.1",)),  # not an address of this machine
        (("--host", "bad..host", "--token", "s3cret-token"), ("cannot listen on bad..host", "--host 127.0.0.1")),
        (("--dispatch", "main"), ("--dispatch main", "--dispatch auto")),
        (("--certfile", "/no/such/cert.pem"), ("--certfile /no/such/cert.pem",)),
        (("--keyfile", __file__), ("--certfile is missing",)),
        (("--certfile", __file__), ("--certfile {}".format(__file__), "PEM")),
        (("--cafile", "/no/such/ca.pem"), ("--cafile /no/such/ca.pem",)),
    ],
)
def test_serve_errors_name_the_flag_to_use(args, flags):
    _says_in_flags(hrpyc_cli("serve", "--port", "0", *args), *flags)


def test_a_taken_port_says_use_port_0_or_a_range():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        _says_in_flags(
            hrpyc_cli("serve", "--port", str(port)),
            "127.0.0.1:{} is already in use by another program".format(port),
            "use --port 0 or --port 18811-18820 to take a free port",
        )


def test_a_port_held_by_a_session_is_named_by_its_holder_as_the_panel_names_it(server_process):
    result = hrpyc_cli("serve", "--port", str(server_process.port))
    holder = "hrpyc in Python {} (pid {})".format(sys.version.split()[0], server_process.proc.pid)
    _says_in_flags(result, "127.0.0.1:{} is already in use by {};".format(server_process.port, holder))


def _serve_first_lines(*args, lines=1, **env):
    """`hrpyc serve ...`'s first `lines` lines once it listens (or its error), and its process killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hrpyc", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(**env),
    )
    try:
        return "".join(proc.stdout.readline() for _ in range(lines))
    finally:
        proc.kill()
        proc.communicate()


def _taken_then_free():
    """A listening socket on a port whose next port is free (for now)."""
    for _ in range(20):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", taken.getsockname()[1] + 1))
                return taken
            except OSError:
                taken.close()
    raise AssertionError("no two free ports in a row")


def test_serve_takes_a_range_from_port_and_from_hrpyc_port():
    with _taken_then_free() as taken:
        port = taken.getsockname()[1]
        serving = "hrpyc: serving on 127.0.0.1:{} ".format(port + 1)
        assert _serve_first_lines("--port", "{}-{}".format(port, port + 1)).startswith(serving)
        assert _serve_first_lines(HRPYC_PORT="{}-{}".format(port, port + 1)).startswith(serving)
        assert _serve_first_lines(HRPYC_PORT=str(port)).startswith("hrpyc: 127.0.0.1:{} is already in use".format(port))
        result = hrpyc_cli("serve", "--port", "{}-{}".format(port, port))
        _says_in_flags(result, "127.0.0.1:{} is already in use".format(port))
    assert hrpyc_cli("serve", "--port", "18820-18811").returncode == 2  # usage: a range ends after it starts


def test_serve_in_a_python_without_hou_points_to_the_demo():
    lines = _serve_first_lines("--port", "0", lines=2, PYTHONPATH=LIBS).splitlines()  # no stand-in hou
    assert lines[0].startswith("hrpyc: serving on ") and "`hrpyc serve --demo` serves a demo hou" in lines[1]
    with_hou = _serve_first_lines("--port", "0", "--verbose", lines=2)  # hou importable (the stand-in)
    assert "--demo" not in with_hou and "hrpyc: listening on" in with_hou


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
    server = ServerProcess("--token", "s3cret-token")
    try:
        address = "{}:{}".format(server.host, server.port)
        needs = "hrpyc: the server at {} needs a token; pass it as --token or set HRPYC_TOKEN".format(address)
        _says_in_flags(hrpyc_cli("ping", address), needs)
        # not this user's session record: the server itself says it asks for one
        _says_in_flags(hrpyc_cli("ping", address, HRPYC_STATE_DIR=os.environ["HRPYC_STATE_DIR"] + "-other"), needs)
        _says_in_flags(hrpyc_cli("ping", address, "--token", "wrong"), "--token", "--token auto")
        assert hrpyc_cli("ping", address, "--token", "s3cret-token").returncode == 0
    finally:
        server.close()


def test_a_token_offered_to_a_server_that_asks_for_none_says_where_it_came_from(server_process):
    address = "{}:{}".format(server_process.host, server_process.port)
    left_over = hrpyc_cli("ping", address, HRPYC_TOKEN="left-over-token")
    _says_in_flags(left_over, "asks for no token", "unset HRPYC_TOKEN")
    assert "pass the server's token" not in left_over.stderr and "left-over-token" not in left_over.stderr
    _says_in_flags(hrpyc_cli("ping", address, "--token", "a-token-given"), "asks for no token", "leave out --token")


def test_an_unknown_host_says_check_the_host_name():
    result = hrpyc_cli("ping", "no-such-host.invalid:18811")
    _says_in_flags(result, "no hrpyc server at no-such-host.invalid:18811 (unknown host", "; check the host name")
    assert "start_server" not in result.stderr and "`hrpyc serve" not in result.stderr


def test_ping_and_shell_take_the_port_as_port_or_in_host_port(server_process):
    port = str(server_process.port)
    for args in (("--port", port), ("127.0.0.1", "--port", port), ("localhost:" + port,)):
        result = hrpyc_cli("ping", *args)
        assert result.returncode == 0 and ":{} is alive".format(port) in result.stdout, result.stderr
    shell = hrpyc_cli("shell", "--port", port, stdin="print(connection.modules.os.getpid())\n")
    assert shell.returncode == 0 and str(server_process.proc.pid) in shell.stdout.split()
    twice = hrpyc_cli("ping", "localhost:1", "--port", port)
    assert twice.returncode == 2 and "give the port once" in twice.stderr


def test_serve_refuses_a_token_the_panel_would_refuse_without_showing_it():
    for token, says in (("abcde", "use at least 8 characters"), (" padded-token ", "remove the spaces at its ends")):
        result = hrpyc_cli("serve", "--port", "0", "--token", token)
        _says_in_flags(result, "hrpyc: --token is not valid: " + says)
        assert token.strip() not in result.stderr
    _says_in_flags(hrpyc_cli("serve", "--port", "0", HRPYC_TOKEN="abcde"), "HRPYC_TOKEN is not valid: use at least 8")


def test_several_sessions_say_pass_port():
    first, second = ServerProcess(), ServerProcess()
    try:
        _says_in_flags(hrpyc_cli("ping"), str(first.port), str(second.port), "pass --port")
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
    plumbing = [os.path.dirname(module.__file__) + os.sep for module in (hrpyc, rpyc)]  # where they are installed
    assert "Remote Traceback" not in err and [frame for frame in frames if any(p in frame for p in plumbing)] == []
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
    # the key that leaves Python's own prompt: Ctrl-D, and on Windows' console Ctrl-Z then Enter
    assert address in banner and ("Ctrl-Z then Enter" if os.name == "nt" else "Ctrl-D") in banner


def test_shell_without_ipython_ends_with_one_line_when_the_server_dies(server_process, without_ipython):
    out, err = _shell_session(server_process, **without_ipython)
    assert ">>> " in out + err and "In [" not in out  # the standard library's prompt


def test_shell_uses_ipython_when_installed_and_ends_with_one_line_when_the_server_dies(server_process):
    need("IPython", "hrpyc shell uses IPython when it is installed")
    out, _ = _shell_session(server_process)
    assert "In [1]" in out


def test_mcp_without_the_sdk_says_in_one_line_how_to_install_it(tmp_path):
    """hrpyc keeps working without the MCP SDK; `hrpyc mcp` then says how to get it (and, before Python
    3.10, which the SDK needs, that it needs a newer Python)."""
    (tmp_path / "mcp").mkdir()
    (tmp_path / "mcp" / "__init__.py").write_text("raise ImportError('No module named mcp (hidden by the test)')\n")
    result = hrpyc_cli("mcp", PYTHONPATH=os.pathsep.join([str(tmp_path), LIBS]))
    assert result.returncode == 1 and result.stdout == "", result
    wanted = "needs the MCP SDK" if sys.version_info >= (3, 10) else "needs Python 3.10 or newer"
    assert result.stderr.count("\n") == 1 and wanted in result.stderr and "pip install 'hrpyc[mcp]'" in result.stderr


def test_import_hou_in_the_shell_says_hou_is_the_servers_already(server_process, without_ipython):
    address = "{}:{}".format(server_process.host, server_process.port)
    result = hrpyc_cli(
        "shell", address, stdin="import hou\nprint(hou.node('/obj/sphere1').path())\n", **without_ipython
    )
    assert result.returncode == 0 and "/obj/sphere1" in result.stdout
    assert "ModuleNotFoundError: No module named 'hou'" in result.stderr
    assert "hrpyc: `hou` is the server's, and already here: use it without importing it" in result.stderr


def test_the_shell_keeps_the_frames_of_user_code_in_a_folder_named_hrpyc(tmp_path, without_ipython):
    """Plumbing is hrpyc's and rpyc's own files, known by where they are installed: a folder named hrpyc
    (a clone's, a user's) is not."""
    folder = tmp_path / "hrpyc"
    folder.mkdir()
    (folder / "usertool.py").write_text("def fail():\n    raise ValueError('from the user tool')\n")
    server = ServerProcess(PYTHONPATH=os.pathsep.join([str(folder), LIBS, STANDIN]))
    try:
        address = "{}:{}".format(server.host, server.port)
        result = hrpyc_cli("shell", address, stdin="connection.modules.usertool.fail()\n", **without_ipython)
    finally:
        server.close()
    assert '{}", line 2, in fail'.format(folder / "usertool.py") in result.stderr, result.stderr
    assert "ValueError: from the user tool" in result.stderr
    frames = [line for line in result.stderr.splitlines() if line.startswith("  File ")]
    assert len(frames) == 1, frames  # the user's; none of rpyc's or hrpyc's


def _interrupted_cli(*args, when, **env):
    """`python -X importtime -m hrpyc ARGS`, Ctrl-C as a terminal sends it once `when(line)` is true of a
    line it writes to stderr (-X importtime writes one as each module has loaded); returns (exit status,
    what it wrote to stderr besides those lines). A thread reads stderr: a Windows pipe holds 4 KB, and a
    command whose stderr is not read stops at its first write past that."""
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "hrpyc", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **ctrl_c_able(child_env(**env)),
    )
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr] + [lines.put(None)])
    reader.start()
    try:
        said = []
        for line in iter(lambda: lines.get(timeout=60), None):
            said.append(line)
            if when(line):
                break
        send_ctrl_c(process)
        process.wait(timeout=30)
        reader.join(30)
        said += [line for line in list(lines.queue) if line is not None]  # what came after `when`
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, "".join(line for line in said if not line.startswith("import time:"))


@pytest.mark.parametrize(
    "moment",
    [
        "hrpyc._cli.interrupts",  # hrpyc's first module: rpyc and the rest of hrpyc still to load
        "rpyc.core.protocol",
        "hrpyc._server.server",
        "connected",  # loaded, and waiting for a server that never answers
    ],
)
def test_ctrl_c_at_any_moment_ends_the_cli_with_130_and_no_traceback(moment):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        silent.settimeout(30)
        address = "127.0.0.1:{}".format(silent.getsockname()[1])
        if moment == "connected":
            when = lambda line: silent.accept() and True  # noqa: E731 - the first line after loading
        else:
            when = lambda line: line.rsplit("|", 1)[-1].strip() == moment  # noqa: E731 - that module loaded
        status, said = _interrupted_cli("ping", address, when=when)
    assert (status, said) == (130, "")


@pytest.mark.parametrize("prompt", ["standard", "ipython"])
def test_ctrl_c_in_the_shell_stops_the_command_in_one_line_and_the_prompt_goes_on(
    server_process, tmp_path, prompt, request
):
    if prompt == "ipython":
        need("IPython", "hrpyc shell uses IPython when it is installed")
    env = request.getfixturevalue("without_ipython") if prompt == "standard" else {}
    started = tmp_path / "started"
    process = subprocess.Popen(
        [sys.executable, "-m", "hrpyc", "shell", "{}:{}".format(server_process.host, server_process.port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **ctrl_c_able(child_env(**env)),
    )
    try:
        process.stdin.write(
            'connection.execute("import pathlib, time; pathlib.Path({!r}).touch(); time.sleep(3)")\n'.format(
                started.as_posix()  # in a string in a string: no backslashes to double twice
            )
        )
        process.stdin.flush()
        wait_for(started.exists, what="the remote call to start")
        send_ctrl_c(process)
        out, err = process.communicate("print('after', 6 * 7)\n", timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "after 42" in out
    assert [line for line in err.splitlines() if line and not line.startswith("hrpyc shell:")] == ["KeyboardInterrupt"]
