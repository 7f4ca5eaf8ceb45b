"""Any client, any Houdini: one server answers rpyc 4.1, 5 and 6 clients; a handshake says what each end
is; what cannot be bridged says so in one line."""

import os
import subprocess
import sys

import pytest
from conftest import ServerProcess, child_env, hrpyc_cli, unavailable

import hrpyc
from hrpyc._wire.rpyc_versions import RPYC_VERSION

# Interpreters with other rpyc versions (.ci/run builds them); this one always takes part.
CLIENTS = [sys.executable] + [p for p in os.environ.get("HRPYC_TEST_CLIENTS", "").split(os.pathsep) if p]

CLIENT_SCRIPT = """
import platform, sys, rpyc, hrpyc
from hrpyc._wire.rpyc_versions import RPYC_VERSION_STRING
host, port = sys.argv[1], int(sys.argv[2])
conn, hou = hrpyc.import_remote_module(host, port)
assert hou.node("/obj/sphere1").parm("scale").eval() == 1.0
try:
    conn.modules.os.stat("/no/such/file")
except FileNotFoundError as error:
    assert type(error) is FileNotFoundError and str(error).endswith("'/no/such/file'"), str(error)
try:
    hou.node("/obj").createNode("no such type")
except hou.Error as error:
    assert type(error) is hou.OperationFailed and "createNode" in error.remote_traceback
    assert str(error) == "The attempted operation failed.\\nInvalid node type name", str(error)
try:
    hrpyc.run(conn, "import hou\\nraise hou.PermissionError('locked')")
except hou.PermissionError as error:
    assert not isinstance(error, PermissionError) and str(error) == "locked"
typed = {}
exec("def double(x):\\n    return 2 * x\\n", typed)  # as a script editor runs it: Python keeps no source
try:
    assert hrpyc.run(conn, typed["double"], 21) == 42
    went = True
except hrpyc.HrpycError as error:
    assert str(error).endswith("pass the code as a string, or define the function in a module file")
    went = False
assert went == (conn.server_info["python"].split(".")[:2] == platform.python_version().split(".")[:2])
blob = bytes(range(256)) * 4096  # 1 MB each way: by the bulk lane
path = hrpyc.run(conn, "import os, tempfile\\nhandle, result = tempfile.mkstemp()\\nos.close(handle)")
assert hrpyc.push_file(conn, path, blob) == len(blob) and hrpyc.fetch_file(conn, path) == blob
assert hrpyc.run(conn, "result = bytes(range(256)) * 4096") == blob
conn.modules.os.remove(path)
stock = rpyc.classic.connect(host, port)
assert stock.modules.hou.node("/obj/sphere1").path() == "/obj/sphere1"
here = "python {} rpyc {}".format(sys.version.split()[0], RPYC_VERSION_STRING)
print(here, "-> server rpyc", conn.server_info["rpyc"])
"""


def _rpyc_of(python):
    return subprocess.check_output(
        [python, "-c", "import rpyc.version as v; print('.'.join(str(p) for p in v.version[:3]))"], text=True
    ).strip()


@pytest.mark.parametrize(
    "python",
    CLIENTS,
    ids=lambda p: "client-" + _rpyc_of(p) + "-" + os.path.basename(os.path.dirname(os.path.dirname(p))),
)
def test_one_server_answers_every_rpyc_client(server_process, python):
    result = subprocess.run(
        [python, "-c", CLIENT_SCRIPT, server_process.host, str(server_process.port)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "-> server rpyc {}".format(".".join(map(str, RPYC_VERSION))) in result.stdout, result.stdout


def test_the_handshake_tells_our_client_what_the_server_is(remote):
    conn, _ = remote
    info = conn.server_info
    assert info["hrpyc"] == hrpyc.__version__
    assert info["rpyc"] == ".".join(map(str, RPYC_VERSION))
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))
    assert info["pid"] and info["dispatch"] == "thread"


def _other_generation_python():
    mine = RPYC_VERSION >= (6,)
    for python in CLIENTS[1:]:
        if (tuple(int(p) for p in _rpyc_of(python).split(".")) >= (6,)) != mine:
            return python
    return None


def test_a_stock_server_of_the_other_rpyc_generation_is_named_in_one_line(stock_server):
    python = _other_generation_python()
    if python is None:
        unavailable("needs an interpreter with the other rpyc generation (HRPYC_TEST_CLIENTS, set by .ci/run)")
    stock = stock_server(python)
    with pytest.raises(hrpyc.HrpycError) as caught:
        hrpyc.connect("127.0.0.1", stock.port, timeout=5)
    message = str(caught.value)
    assert "\n" not in message and "rpyc" in message
    if RPYC_VERSION >= (6,):  # what rpyc 6 reads from an older server is unmistakable
        assert isinstance(caught.value, hrpyc.VersionMismatchError)
        assert "rpyc < 6" in message and "rpyc 6." in message and "pip install 'rpyc>=4.1,<6'" in message


def test_ping_shows_the_versions(server_process):
    result = hrpyc_cli("ping", "{}:{}".format(*server_process.address))
    assert "hrpyc {}".format(hrpyc.__version__) in result.stdout
    assert "rpyc {}".format(".".join(map(str, RPYC_VERSION))) in result.stdout and "Python" in result.stdout


def test_session_records_list_live_servers_and_are_removed_on_stop(tmp_path):
    first = ServerProcess()
    second = ServerProcess()
    try:
        listing = hrpyc_cli("sessions").stdout
        for server in (first, second):
            assert "127.0.0.1:{}".format(server.port) in listing and "pid {}".format(server.proc.pid) in listing
        with pytest.raises(hrpyc.MultipleSessionsError) as caught:
            hrpyc.connect()
        assert str(first.port) in str(caught.value) and str(second.port) in str(caught.value)
        first.interrupt()  # a clean stop removes its record at once
        records = os.listdir(os.path.join(os.environ["HRPYC_STATE_DIR"], "sessions"))
        assert [name for name in records if name.startswith("{}-".format(first.proc.pid))] == []
        conn = hrpyc.connect()  # now the only one: no port needed
        assert conn.address == "127.0.0.1:{}".format(second.port)
    finally:
        first.close()
        second.close()  # killed: no chance to remove its record
    from hrpyc._common import sessions

    assert all(record["pid"] != second.proc.pid for record in sessions.live())


def test_a_record_of_a_dead_process_is_ignored(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = os.path.join(os.environ["HRPYC_STATE_DIR"], "sessions")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "{}-18811.json".format(dead.pid)), "w") as handle:
        handle.write('{"pid": %d, "port": 18811, "host": "127.0.0.1"}' % dead.pid)
    from hrpyc._common import sessions

    assert sessions.live() == []
    assert os.listdir(folder) == []


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_servers_register_with_rpycs_registry_and_sessions_lists_them(transport):
    import socket

    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server_class = "UDPRegistryServer" if transport == "udp" else "TCPRegistryServer"
    registry = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from rpyc.utils.registry import {0}; {0}(host='127.0.0.1', port={1}).start()".format(server_class, port),
        ],
        env=child_env(),
    )
    address = "{}://127.0.0.1:{}".format(transport, port)
    server = None
    try:
        server = ServerProcess(HRPYC_REGISTRY=address)
        import time

        deadline = time.monotonic() + 20
        while True:
            listing = hrpyc_cli("sessions", "--registry", address).stdout
            if "127.0.0.1:{}".format(server.port) in listing:
                break
            assert time.monotonic() < deadline, listing
            time.sleep(0.2)
        assert "hrpyc {}".format(hrpyc.__version__) in listing
    finally:
        if server is not None:
            server.close()
        registry.kill()
        registry.wait()
