"""The per-user folder is checked, not trusted: what another user could plant or redirect there is
refused in one line, before a server takes its port."""

import json
import os
import socket
import stat
import subprocess
import sys

import pytest
from conftest import free_port

import hrpyc
from hrpyc._common import sessions

# Windows protects files by access lists, not by the modes and links these tests plant: test_oslayer checks those.
posix_modes = pytest.mark.skipif(os.name != "posix", reason="POSIX modes: Windows has ACLs, which chmod does not set")
posix_links = pytest.mark.skipif(
    os.name != "posix", reason="symbolic links: Windows lets only administrators (or developer mode) make them"
)


@pytest.fixture
def state():
    path = os.environ["HRPYC_STATE_DIR"]
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _port_is_free(port):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@posix_modes
def test_a_folder_others_may_write_is_refused_before_the_port_is_taken(state):
    os.chmod(state, 0o777)
    port = free_port()
    with pytest.raises(hrpyc.UnsafeFileError) as caught:
        hrpyc.start_server(port=port)
    assert state in str(caught.value) and "chmod 700" in str(caught.value) and "\n" not in str(caught.value)
    assert hrpyc.running_server() is None
    _port_is_free(port)


@posix_links
def test_a_planted_link_in_place_of_the_token_is_refused(state, tmp_path):
    planted = tmp_path / "attacker-token"
    planted.write_text("the attacker's token")
    os.symlink(str(planted), os.path.join(state, "token"))
    with pytest.raises(hrpyc.UnsafeFileError, match="symbolic link"):
        hrpyc.Server("127.0.0.1", 0, token="auto")


@posix_modes
def test_a_token_others_may_read_is_refused(state):
    path = os.path.join(state, "token")
    with open(path, "w") as handle:
        handle.write("x" * 43)
    os.chmod(path, 0o644)
    with pytest.raises(hrpyc.UnsafeFileError, match="chmod 600"):
        hrpyc.Server("127.0.0.1", 0, token="auto")


@posix_links
def test_writing_the_token_never_follows_a_planted_link(state, tmp_path):
    target = tmp_path / "attacker-file"
    target.write_text("untouched")
    for name in ("token.tmp", "token.new"):
        os.symlink(str(target), os.path.join(state, name))
    server = hrpyc.Server("127.0.0.1", 0, token="auto")
    server.stop()
    assert target.read_text() == "untouched"
    mode = stat.S_IMODE(os.lstat(os.path.join(state, "token")).st_mode)
    assert mode == 0o600 and not os.path.islink(os.path.join(state, "token"))


def _plant(state, pid, **fields):
    folder = os.path.join(state, "sessions")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "{}-18811.json".format(pid))
    with open(path, "w") as handle:
        json.dump(dict({"pid": pid, "port": 18811, "host": "127.0.0.1"}, **fields), handle)
    return path


def test_another_machines_record_on_a_shared_home_is_left_alone(state):
    path = _plant(state, os.getpid(), machine="some-other-host", process_started="1")
    assert sessions.live() == [] and os.path.exists(path)


def test_a_record_whose_pid_was_reused_is_not_taken_for_a_live_server(state):
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        path = _plant(state, alive.pid, machine=socket.gethostname(), process_started="12345")  # not its start
        assert sessions.live() == [] and not os.path.exists(path)
    finally:
        alive.communicate(b"")


def test_a_live_servers_record_is_found(state):
    server = hrpyc.start_server(port=0)
    assert [r["port"] for r in sessions.live()] == [server.address[1]]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes in the file system are POSIX (os.mkfifo)")
def test_a_pipe_as_token_file_is_a_one_line_config_error_not_a_hang(tmp_path, monkeypatch):
    fifo = tmp_path / "token-fifo"
    os.mkfifo(str(fifo))
    monkeypatch.setenv("HRPYC_TOKEN_FILE", str(fifo))
    with pytest.raises(hrpyc.ConfigError, match=r"HRPYC_TOKEN_FILE.*regular file"):
        hrpyc.Server("127.0.0.1", 0)


def test_an_absurdly_long_token_is_a_one_line_config_error(monkeypatch):
    monkeypatch.setenv("HRPYC_TOKEN", "x" * 30000)  # Windows takes variables up to 32767 characters
    with pytest.raises(hrpyc.ConfigError, match="HRPYC_TOKEN") as caught:
        hrpyc.Server("127.0.0.1", 0)
    assert len(str(caught.value)) < 200
