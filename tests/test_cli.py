"""`hrpyc serve | ping | shell` as a TD types them in a terminal."""

import subprocess
import sys

import pytest
from conftest import ServerProcess, free_port, hrpyc_cli


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
        (),
    ],
)
def test_bad_arguments_print_usage_and_exit_2(args):
    result = hrpyc_cli(*args)
    assert result.returncode == 2
    assert "usage: hrpyc" in result.stderr


def test_the_console_script_is_installed():
    import os
    import shutil

    script = shutil.which("hrpyc", path=os.path.dirname(sys.executable))
    assert script, "pip install should put an hrpyc command next to python"
    result = subprocess.run([script, "--help"], stdout=subprocess.PIPE, text=True)
    assert result.returncode == 0 and "serve" in result.stdout
