"""Who is connected: an hrpyc client says its program, pid, user and host; a stock client is shown as
such; whatever a peer claims is bounded and printable, and the server carries on."""

import getpass
import logging
import os
import socket
import subprocess
import sys

import rpyc
from conftest import child_env, hrpyc_cli, wait_for

import hrpyc

STAY = "import sys\n{}\nprint('ok', flush=True)\nsys.stdin.read()\n"


def client_process(tmp_path, connect_line, address):
    """A client in its own process, run as a script file (its program name), connected until stdin closes."""
    script = tmp_path / "nightly_export.py"
    script.write_text(STAY.format(connect_line))
    proc = subprocess.Popen(
        [sys.executable, str(script), address[0], str(address[1])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout.readline().strip() == "ok"
    return proc


def close(proc):
    proc.stdin.close()
    proc.wait(10)


def test_the_server_knows_an_hrpyc_clients_program_pid_user_and_host(local_server, tmp_path):
    seen = []
    hrpyc.subscribe(seen.append)
    try:
        proc = client_process(
            tmp_path, "import hrpyc\nconn = hrpyc.connect(sys.argv[1], int(sys.argv[2]))", local_server.address
        )
        wait_for(lambda: any(e.kind == "connected" for e in seen), what="connected event")
    finally:
        hrpyc.unsubscribe(seen.append)
    [client] = local_server.clients()
    assert (client.program, client.pid, client.user, client.host) == (
        "nightly_export.py",
        proc.pid,
        getpass.getuser(),
        socket.gethostname(),
    )
    assert client.who == "nightly_export.py (pid {}, {}@{})".format(proc.pid, getpass.getuser(), socket.gethostname())
    # the "connected" event already knows who it is
    assert [e.client.who for e in seen if e.kind == "connected"] == [client.who]
    close(proc)


def test_a_stock_rpyc_client_is_served_as_before_and_shown_as_stock(local_server, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="hrpyc")
    proc = client_process(
        tmp_path,
        "import rpyc\nconn = rpyc.classic.connect(sys.argv[1], int(sys.argv[2]))\nassert conn.modules.os.getpid() > 0",
        local_server.address,
    )
    wait_for(lambda: "stock rpyc client" in caplog.text, what="the connected line")
    [client] = local_server.clients()
    assert client.who == "stock rpyc client" and client.pid is None and client.requests > 0
    close(proc)


class Liar(tuple):
    """Not plain data: rpyc sends it as a proxy the server could call back into."""


def test_an_overlong_or_control_character_identity_is_cut_escaped_and_harmless(local_server, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="hrpyc")
    claims = (
        ("program", "x" * 1_000_000 + "\x1b[2J"),
        ("user", "eve\r\nhrpyc: client 10.0.0.1 connected: admin"),
        ("host", "\u202eevil\x00host\x07"),
        ("pid", "-1; kill"),
        ("extra", "ignored"),
    ) + (("user", "later"),) * 100_000
    monkeypatch.setattr(hrpyc._common.identity, "own", lambda: claims)
    hostile = hrpyc.connect(*local_server.address)
    [client] = local_server.clients()
    assert client.program == "x" * 61 + "..."
    assert client.user == "eve\\r\\nhrpyc: client 10.0.0.1 connected: admin"
    assert client.host == "\\u202eevil\\x00host\\x07" and client.pid is None
    [line] = [r.getMessage() for r in caplog.records if "connected:" in r.getMessage()]
    assert line.endswith("connected: {} (pid ?, {}@{})".format(client.program, client.user, client.host))
    assert line.isprintable()
    # the first word stays; a proxy instead of plain data is ignored, never called back
    hostile.root.hrpyc_hello(30, Liar((("program", "liar"),)))
    hostile.root.hrpyc_hello(30, (("program", "liar"),))
    assert local_server.clients()[0].program == client.program
    # the server carries on, for this client and others
    assert hostile.modules.os.getpid() == os.getpid()
    other = rpyc.classic.connect(*local_server.address)
    assert other.modules.os.getpid() == os.getpid()
    other.close()
    hostile.close()


def test_sessions_clients_lists_each_sessions_clients(server_process, tmp_path):
    proc = client_process(
        tmp_path, "import hrpyc\nconn = hrpyc.connect(sys.argv[1], int(sys.argv[2]))", server_process.address
    )
    stock = rpyc.classic.connect(*server_process.address)
    result = hrpyc_cli("sessions", "--clients")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("127.0.0.1:{}  pid {}".format(server_process.port, server_process.proc.pid))
    assert lines[1].split() == ["PROGRAM", "USER@HOST", "PID", "ADDRESS", "CONNECTED", "SINCE"]
    mine = "{}@{}".format(getpass.getuser(), socket.gethostname())
    assert lines[2].split()[:3] == ["nightly_export.py", mine, str(proc.pid)]
    assert lines[3].split()[:5] == ["stock", "rpyc", "client", "-", "-"]
    assert len(lines) == 4  # the listing's own connection is not listed
    stock.close()
    close(proc)
