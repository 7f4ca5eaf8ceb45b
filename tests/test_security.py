"""Only its owner can use the server, and nothing sent to it can hurt it."""

import ast
import builtins
import glob
import logging
import math
import os
import random
import socket
import ssl
import stat
import struct
import subprocess
import sys
import threading
import time
import warnings

import pytest
import rpyc
import rpyc.utils.server
from certs import make_authority
from conftest import (
    ServerProcess,
    child_env,
    free_port,
    memory_mb,
    needs_handle_count,
    needs_process_stats,
    open_handles,
    unavailable,
    wait_for,
)

import hrpyc
import hrpyc._auth.proof
import hrpyc._caller.challenge
from hrpyc._wire.rpyc_versions import RPYC_VERSION

SECRET = "correct-horse-battery-staple"


@pytest.fixture
def token_server():
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET).start()
    yield server
    server.stop()


def test_the_right_token_connects(token_server):
    conn = hrpyc.connect(*token_server.address, token=SECRET)
    assert conn.modules.os.getpid() == os.getpid()
    assert conn.server_info["auth"] == "token"


def test_a_wrong_token_raises_authentication_error_at_once_without_the_secret(token_server, caplog):
    with caplog.at_level(logging.INFO, logger="hrpyc"):
        with pytest.raises(hrpyc.AuthenticationError) as caught:
            hrpyc.connect(*token_server.address, token="guess")
        wait_for(lambda: "wrong token" in caplog.text, what="the refusal to be logged")
    message = str(caught.value)
    assert "refused our token" in message and "HRPYC_TOKEN" in message and "\n" not in message
    assert isinstance(caught.value, ConnectionRefusedError)
    assert "guess" not in message and SECRET not in message
    assert SECRET not in caplog.text and "guess" not in caplog.text


def test_a_stock_rpyc_client_is_refused_and_logged_with_its_address(token_server, caplog):
    refusals = []
    hrpyc.subscribe(refusals.append)
    try:
        with caplog.at_level(logging.WARNING, logger="hrpyc"):
            with pytest.raises((EOFError, OSError)):
                rpyc.classic.connect(*token_server.address).modules.os.getpid()
            wait_for(lambda: any(e.kind == "refused" for e in refusals), what="refused event")
    finally:
        hrpyc.unsubscribe(refusals.append)
    assert "refused 127.0.0.1:" in caplog.text and "no token" in caplog.text
    assert token_server.clients() == []


def test_our_client_without_a_token_is_told_the_server_needs_one(token_server, tmp_path, monkeypatch):
    with pytest.raises(hrpyc.AuthenticationError) as caught:
        hrpyc.connect(*token_server.address)  # its session record says so
    assert str(
        caught.value
    ) == "the server at {}:{} needs a token; pass it as token= or set HRPYC_TOKEN or HRPYC_TOKEN_FILE".format(
        *token_server.address
    )
    monkeypatch.setenv("HRPYC_STATE_DIR", str(tmp_path / "elsewhere"))  # no record: the server itself says so
    with pytest.raises(hrpyc.AuthenticationError, match="needs a token"):
        hrpyc.connect(*token_server.address)


def test_tokens_from_the_environment_and_from_a_file(tmp_path, monkeypatch):
    secret_file = tmp_path / "token.txt"
    secret_file.write_text(SECRET + "\n")
    monkeypatch.setenv("HRPYC_TOKEN_FILE", str(secret_file))
    server = hrpyc.Server("127.0.0.1", 0).start()
    try:
        assert server.credential == "token"
        assert hrpyc.connect(*server.address).modules.os.getpid()  # the client reads the same file
        monkeypatch.delenv("HRPYC_TOKEN_FILE")
        monkeypatch.setenv("HRPYC_TOKEN", SECRET)
        assert hrpyc.connect(*server.address).modules.os.getpid()
        monkeypatch.setenv("HRPYC_TOKEN", "not-it")
        with pytest.raises(hrpyc.AuthenticationError):
            hrpyc.connect(*server.address)
    finally:
        server.stop()


def test_an_unreadable_token_file_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HRPYC_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(hrpyc.ConfigError) as caught:
        hrpyc.start_server(port=0)
    assert "HRPYC_TOKEN_FILE" in str(caught.value)


def test_token_auto_needs_no_configuration_for_the_same_user_on_this_machine():
    server = ServerProcess("--token", "auto")
    try:
        token_files = glob.glob(os.path.join(os.environ["HRPYC_STATE_DIR"], "token"))
        assert len(token_files) == 1
        if os.name == "posix":
            assert stat.S_IMODE(os.stat(token_files[0]).st_mode) == 0o600
        with open(token_files[0]) as handle:
            secret = handle.read().strip()
        conn, hou = hrpyc.import_remote_module(*server.address)  # no token given anywhere
        assert hou.node("/obj/sphere1").path() == "/obj/sphere1"
        assert conn.server_info["auth"] == "token"
        for record in glob.glob(os.path.join(os.environ["HRPYC_STATE_DIR"], "sessions", "*.json")):
            with open(record) as handle:
                assert secret not in handle.read()
        with pytest.raises((EOFError, OSError)):
            rpyc.classic.connect(*server.address).modules.os.getpid()
    finally:
        server.close()


def test_a_socket_that_never_authenticates_is_closed_after_the_timeout(monkeypatch):
    monkeypatch.setenv("HRPYC_AUTH_TIMEOUT", "0.5")
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET).start()
    try:
        with socket.create_connection(server.address) as silent:
            silent.settimeout(5)
            assert silent.recv(1) == b""  # closed by the server, well before our 5 s
    finally:
        server.stop()


def test_a_hundred_silent_sockets_do_not_block_a_legitimate_client(token_server):
    silent = [socket.create_connection(token_server.address) for _ in range(100)]
    try:
        conn = hrpyc.connect(*token_server.address, token=SECRET, timeout=5)
        assert conn.modules.os.getpid() == os.getpid()
    finally:
        for sock in silent:
            sock.close()


def test_the_client_limit_refuses_extra_clients_clearly():
    server = hrpyc.Server("127.0.0.1", 0, token=SECRET, max_clients=2).start()
    try:
        first = hrpyc.connect(*server.address, token=SECRET)
        second = hrpyc.connect(*server.address, token=SECRET)
        with pytest.raises(hrpyc.TooManyClientsError) as caught:
            hrpyc.connect(*server.address, token=SECRET)
        assert "as many clients as it allows" in str(caught.value) and "HRPYC_MAX_CLIENTS" in str(caught.value)
        first.close()
        wait_for(lambda: len(server.clients()) == 1, what="a free place")
        assert hrpyc.connect(*server.address, token=SECRET).modules.os.getpid()
        second.close()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    return make_authority(str(tmp_path_factory.mktemp("ca")))


def test_tls_with_our_client_and_with_stock_ssl_connect(authority):
    cert, key = authority["server"]
    server = hrpyc.Server("127.0.0.1", 0, certfile=cert, keyfile=key).start()
    try:
        conn = hrpyc.connect(*server.address, cafile=authority["ca"])
        assert conn.server_info["tls"] == "yes"
        assert conn.modules.os.getpid() == os.getpid()
        # rpyc < 5 defaults to TLS 1.0, which a modern server refuses: such clients name a version.
        modern = {} if RPYC_VERSION >= (5,) else {"ssl_version": ssl.PROTOCOL_TLS}
        if RPYC_VERSION >= (5,) or hasattr(ssl, "wrap_socket"):  # rpyc < 5's ssl_connect needs Python < 3.12
            stock = rpyc.classic.ssl_connect(*server.address, ca_certs=authority["ca"], **modern)
            assert stock.modules.os.getpid() == os.getpid()
        else:
            with pytest.raises(AttributeError, match="wrap_socket"):
                rpyc.classic.ssl_connect(*server.address, ca_certs=authority["ca"], **modern)
        with pytest.raises(hrpyc.ProtocolError):  # plain rpyc against TLS: refused, server unharmed
            hrpyc.connect(*server.address, timeout=2)
        assert conn.modules.os.getpid() == os.getpid()
    finally:
        server.stop()


def test_tls_client_certificates_are_a_credential(authority, monkeypatch):
    cert, key = authority["server"]
    monkeypatch.setenv("HRPYC_TLS_CA", authority["ca"])  # the server requires certificates it signed
    server = hrpyc.Server("127.0.0.1", 0, certfile=cert, keyfile=key).start()
    try:
        assert server.credential == "certificate"
        client_cert, client_key = authority["client"]
        conn = hrpyc.connect(*server.address, cafile=authority["ca"], certfile=client_cert, keyfile=client_key)
        assert conn.modules.os.getpid() == os.getpid()
        assert hrpyc.run(conn, "result = b'x' * (1 << 20)") == b"x" * (1 << 20)  # inline: no lane without a token
        stranger_cert, stranger_key = authority["stranger"]
        with pytest.raises((hrpyc.ProtocolError, EOFError, OSError)):
            hrpyc.connect(
                *server.address, cafile=authority["ca"], certfile=stranger_cert, keyfile=stranger_key
            ).modules.os.getpid()
    finally:
        server.stop()
    exposed = hrpyc.Server("0.0.0.0", 0, certfile=cert, keyfile=key)  # allowed: a credential is required
    assert exposed.exposed and exposed.credential == "certificate"
    exposed.stop()


def test_tls_with_a_token(authority):
    cert, key = authority["server"]
    server = hrpyc.Server("127.0.0.1", 0, certfile=cert, keyfile=key, token=SECRET).start()
    try:
        conn = hrpyc.connect(*server.address, cafile=authority["ca"], token=SECRET)
        assert conn.modules.os.getpid() == os.getpid()
        assert hrpyc.run(conn, "result = b'x' * (1 << 20)") == b"x" * (1 << 20)  # by the lane, through TLS
        with pytest.raises(hrpyc.AuthenticationError):
            hrpyc.connect(*server.address, cafile=authority["ca"], token="guess")
    finally:
        server.stop()


def garbage_cases(rng, count):
    """Inputs a server must survive: random bytes, truncated and oversized rpyc frames, frames of other
    rpyc versions with nonsense inside, TLS client hellos, half preambles, bulk lanes with made-up keys."""
    tls_hello = bytes.fromhex("16030100a5010000a10303") + bytes(rng.getrandbits(8) for _ in range(40))
    for i in range(count):
        kind = i % 7
        if kind == 0:
            yield bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        elif kind == 1:  # a frame header announcing more than is sent
            yield struct.pack("!LB", rng.randint(10, 10000), 0) + b"\x12" * rng.randint(0, 9)
        elif kind == 2:  # a huge length header
            yield struct.pack("!LB", 0xFFFFFFF0, rng.randint(0, 1)) + b"\x00" * 16
        elif kind == 3:  # an rpyc < 6 envelope and an rpyc 6 one, with random payloads
            body = bytes([rng.choice((0x12, 0x01))]) + bytes(rng.getrandbits(8) for _ in range(20))
            yield struct.pack("!LB", len(body), 0) + body
        elif kind == 4:
            yield tls_hello
        elif kind == 5:  # a challenge cut short or answered with nonsense, or the old token preamble
            magic = rng.choice((b"HRPYC\x03", b"HRPYC\x01"))
            yield magic + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        else:  # a bulk lane with a made-up key, cut short or asking for a parcel
            yield b"HRPYC\x02" + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 50)))


def hurl(address, payload):
    with socket.create_connection(address, timeout=5) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass
        except OSError:
            pass  # reset by the server: fine


@pytest.mark.parametrize("token", [None, SECRET])
def test_garbage_before_authentication_never_hurts_a_legitimate_client(token, monkeypatch):
    monkeypatch.setenv("HRPYC_AUTH_TIMEOUT", "1")
    server = hrpyc.Server("127.0.0.1", 0, token=token).start()
    try:
        good = hrpyc.connect(*server.address, token=token)
        for payload in garbage_cases(random.Random(7), 120):
            hurl(server.address, payload)
            assert good.modules.os.getpid() == os.getpid()
        assert server.is_alive()
        wait_for(lambda: len(server.clients()) == 1, what="garbage clients to be dropped")
    finally:
        server.stop()


def test_garbage_after_authentication_drops_only_that_client(token_server):
    good = hrpyc.connect(*token_server.address, token=SECRET)
    for payload in garbage_cases(random.Random(11), 30):
        with socket.create_connection(token_server.address, timeout=5) as sock:
            hrpyc._caller.challenge.prove(sock, SECRET, "the token server")  # our client's own challenge, then garbage
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            try:
                while sock.recv(4096):
                    pass
            except OSError:
                pass
        assert good.modules.os.getpid() == os.getpid()
    wait_for(lambda: len(token_server.clients()) == 1, what="garbage clients to be dropped")


def test_a_client_killed_mid_call_leaves_the_server_serving(server_process):
    script = (
        "import hrpyc, sys\n"
        "conn = hrpyc.connect(sys.argv[1], int(sys.argv[2]), timeout=0)\n"
        "print('calling', flush=True)\n"
        "conn.modules.time.sleep(30)\n"
    )
    victim = subprocess.Popen(
        [sys.executable, "-c", script, server_process.host, str(server_process.port)],
        stdout=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    assert victim.stdout.readline().strip() == "calling"
    victim.kill()  # SIGKILL (TerminateProcess on Windows)
    victim.wait()
    _, hou = hrpyc.import_remote_module(*server_process.address)
    assert hou.node("/obj/sphere1").path() == "/obj/sphere1"


@needs_process_stats
@needs_handle_count
def test_stop_start_cycles_on_one_port_leak_no_files_or_threads():
    port = free_port()

    def cycle():
        hrpyc.start_server(port=port)
        hrpyc.connect(port=port).close()
        hrpyc.stop_server()

    for _ in range(5):  # warm up: lazily created module state, the logging machinery
        cycle()
    files, threads = open_handles(), threading.active_count()
    for _ in range(40):
        cycle()
    wait_for(lambda: threading.active_count() <= threads, what="serving threads to end")
    assert open_handles() <= files


def test_a_hostile_server_cannot_make_our_client_import_or_unpickle(stock_server, tmp_path, monkeypatch):
    """A server that raises an error of a class it says lives in a module we could import (a trap on our
    path) must not make us import it: the client makes a class of that name here, by `type()`."""
    (tmp_path / "hrpyc_trap.py").write_text("import builtins\nbuiltins.hrpyc_trap_sprung = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    script = (
        "import rpyc\n"
        "from stock_server import serve\n"
        "class Evil(Exception):\n"
        "    pass\n"
        "Evil.__module__ = 'hrpyc_trap'\n"
        "class Hostile(rpyc.SlaveService):\n"
        "    def exposed_boom(self):\n"
        "        raise Evil('x')\n"
        "serve(Hostile)\n"
    )
    hostile = stock_server(code=script)
    conn = hrpyc.connect(*hostile.address)
    main_before = sys.modules.get("__mp_main__")  # the MCP SDK's imports put one there, in this process
    with pytest.raises(Exception) as caught:
        conn.root.exposed_boom()
    evil = caught.value
    assert (type(evil).__module__, type(evil).__name__, str(evil)) == ("hrpyc_trap", "Evil", "x")
    assert "hrpyc_trap" not in sys.modules and not hasattr(builtins, "hrpyc_trap_sprung")
    assert sys.modules.get("__mp_main__") is main_before  # nothing imported in the server's __main__'s name


def test_ssl_garbage_handshake_does_not_stop_a_tls_server(authority):
    cert, key = authority["server"]
    server = hrpyc.Server("127.0.0.1", 0, certfile=cert, keyfile=key).start()
    try:
        context = ssl.create_default_context(cafile=authority["ca"])
        for payload in garbage_cases(random.Random(3), 24):
            hurl(server.address, payload)
        with context.wrap_socket(socket.create_connection(server.address), server_hostname="127.0.0.1"):
            pass
        assert hrpyc.connect(*server.address, cafile=authority["ca"]).modules.os.getpid() == os.getpid()
    finally:
        server.stop()


@needs_process_stats
def test_a_frame_announcing_gigabytes_allocates_nothing_of_the_kind(local_server):
    def resident_mb():
        return memory_mb()[0]

    before = resident_mb()
    with socket.create_connection(local_server.address) as liar:
        liar.sendall(struct.pack("!LB", 0xFFFFFFF0, 0) + b"\x12" * 64)  # 4 GB announced, 64 bytes sent
        good = hrpyc.connect(*local_server.address)
        assert good.modules.os.getpid() == os.getpid()
        assert resident_mb() - before < 200


class Squatter(object):
    """Another user's process on the port a client expects its Houdini on: it records every byte the
    client sends, and answers the challenge as best it can without the token (`reply`)."""

    def __init__(self, reply):
        self.heard = b""
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self.address = self._listener.getsockname()
        self._reply = reply
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        sock, _ = self._listener.accept()
        with sock:
            sock.settimeout(5)
            self.heard += sock.recv(len(hrpyc._auth.proof.MAGIC) + hrpyc._auth.proof.NONCE)
            sock.sendall(self._reply)
            try:
                while True:
                    data = sock.recv(4096)
                    if not data:
                        break
                    self.heard += data
            except OSError:
                pass

    def close(self):
        self._thread.join(5)
        self._listener.close()


@pytest.mark.parametrize(
    "reply, says",
    [
        (hrpyc._auth.proof.PROOF + os.urandom(64), "could not prove it knows it"),  # a made-up proof
        (hrpyc._auth.proof.NO_TOKEN, "asks for no token"),  # "no token needed here"
    ],
)
def test_a_port_squatter_learns_nothing_derived_from_the_token(reply, says):
    squatter = Squatter(reply)
    with pytest.raises(hrpyc.AuthenticationError, match=says):
        hrpyc.connect(*squatter.address, token=SECRET)
    squatter.close()
    magic, rest = squatter.heard[: len(hrpyc._auth.proof.MAGIC)], squatter.heard[len(hrpyc._auth.proof.MAGIC) :]
    assert magic == hrpyc._auth.proof.MAGIC
    # A fresh nonce, then nothing or zeros: no proof, no token.
    assert len(rest) >= hrpyc._auth.proof.NONCE and rest[hrpyc._auth.proof.NONCE :] in (b"", hrpyc._auth.proof.UNPROVEN)
    assert SECRET.encode() not in squatter.heard


def test_a_proof_seen_once_does_not_open_another_connection(token_server):
    def challenge(sock):
        nonce = os.urandom(hrpyc._auth.proof.NONCE)
        sock.sendall(hrpyc._auth.proof.MAGIC + nonce)
        answer = b""
        while len(answer) < 65:
            answer += sock.recv(65 - len(answer))
        return nonce, answer[1:33]

    with socket.create_connection(token_server.address, timeout=5) as watched:
        client_nonce, server_nonce = challenge(watched)
        key = hrpyc._auth.proof.token_key(SECRET.encode())
        seen = hrpyc._auth.proof.of(key, b"client", client_nonce, server_nonce)  # what a listener could record
        watched.sendall(seen)
        assert watched.recv(1) == hrpyc._auth.proof.ACCEPTED
    with socket.create_connection(token_server.address, timeout=5) as replayed:
        challenge(replayed)  # the server's nonce is new: the recorded proof is for another exchange
        replayed.sendall(seen)
        assert replayed.recv(1) == hrpyc._auth.proof.WRONG_TOKEN


def _as_another_user(address, hold):
    """A process of another OS user (uid 65534, 'nobody') that connects to `address`, starts a request
    and keeps the socket until the server closes it or `hold` seconds pass; returns its pid. Forked, not started:
    'nobody' may not read this Python's files, so it runs only what is loaded already."""
    pid = os.fork()
    if pid == 0:  # the child: sockets only, then out
        try:
            os.setuid(65534)
            sock = socket.socket()  # not create_connection: its name look-up imports what nobody may read
            sock.settimeout(hold)
            sock.connect(address)
            sock.sendall(b"\x00")  # the first byte of an rpyc frame header: a client's first request begins
            sock.recv(1)
        finally:
            os._exit(0)
    return pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux says who connected; see the README")
@pytest.mark.parametrize("allowed", [False, True])
def test_with_no_credential_only_this_users_processes_may_connect(allowed, caplog):
    if os.getuid() != 0:
        unavailable("playing another user needs root (CI runs as root)")
    server = hrpyc.Server("127.0.0.1", 0, allow_other_users=allowed).start()
    try:
        assert server.only_owner is not allowed and server.credential == "none"
        with caplog.at_level(logging.INFO, logger="hrpyc"):
            pid = _as_another_user(server.address, hold=5)
            if allowed:
                wait_for(lambda: len(server.clients()) == 1, what="the other user's client to be let in")
            else:
                wait_for(lambda: "another user (uid 65534)" in caplog.text, what="the refusal")
                assert server.clients() == []
        own = hrpyc.connect(*server.address)  # this user's own clients, stock or ours, as before
        assert own.modules.os.getpid() == os.getpid()
        assert rpyc.classic.connect(*server.address).modules.os.getpid() == os.getpid()
        own.close()
    finally:
        server.stop()
        os.waitpid(pid, 0)


@pytest.mark.parametrize(
    "answer", ["1" + "+1" * 200000, "[" * 100000 + "]" * 100000, "-" * 50000 + "1"], ids=["sum", "nest", "minus"]
)
def test_a_rogue_servers_answer_cannot_crash_our_client(answer):
    """ast.literal_eval on these kills Python 3.7-3.10 (Maya 2022-24, Nuke 13-15). The client runs in a
    child process, so a crash shows as its exit code; it must raise one line instead."""

    class Rogue(rpyc.SlaveService):
        def hrpyc_hello(self, timeout):
            return (("hrpyc", "a rogue"),)

        def run_code(self, *arguments):
            return ("literal", answer)

    rogue = rpyc.utils.server.ThreadedServer(Rogue, hostname="127.0.0.1", port=0, protocol_config={})
    threading.Thread(target=rogue.start, daemon=True).start()
    wait_for(lambda: rogue.active, what="the rogue server to listen")
    script = (
        "import sys, hrpyc\n"
        "connection = hrpyc.connect('127.0.0.1', int(sys.argv[1]), timeout=30)\n"
        "try:\n"
        "    hrpyc.run(connection, 'result = 1')\n"
        "except hrpyc.ProtocolError as exc:\n"
        "    print(exc)\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", script, str(rogue.port)], capture_output=True, text=True, env=child_env(), timeout=60
        )
        # rpyc's own server raises in its connection thread when close() pulls a socket it still serves
        wait_for(lambda: not rogue.clients, what="the rogue server to see its client leave")
    finally:
        rogue.close()
    assert result.returncode == 0, result.stderr[-500:]
    assert "not plain data" in result.stdout and result.stdout.count("\n") == 1, result.stdout


def test_a_rogue_answer_never_writes_to_our_stderr():
    """Python's own parser printed "s_push: parser stack overflow" for brackets 94-100 deep on 3.7 (then
    raised MemoryError), and a SyntaxWarning for an escape like '\\d' on 3.12+: we never hand it an answer."""
    answers = {
        "deep": "[" * 95 + "]" * 95,
        "deeper": "[" * 101 + "]" * 101,
        "escape": "['\\d']",
        "bytes escape": "b'\\u0041'",
        "octal": "'\\777'",
    }

    class Rogue(rpyc.SlaveService):
        def hrpyc_hello(self, timeout):
            return (("hrpyc", "a rogue"),)

        def run_code(self, source, *arguments):
            return ("literal", answers[source])

    rogue = rpyc.utils.server.ThreadedServer(Rogue, hostname="127.0.0.1", port=0, protocol_config={})
    threading.Thread(target=rogue.start, daemon=True).start()
    wait_for(lambda: rogue.active, what="the rogue server to listen")
    script = (
        "import sys, warnings, hrpyc\n"
        "connection = hrpyc.connect('127.0.0.1', int(sys.argv[1]), timeout=30)\n"
        "warnings.simplefilter('always')\n"
        "for code in sys.argv[2:]:\n"
        "    try:\n"
        "        print(code, 'read', len(repr(hrpyc.run(connection, code))))\n"
        "    except hrpyc.ProtocolError as exc:\n"
        "        print(code, 'refused', exc)\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", script, str(rogue.port), *answers],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=60,
        )
        wait_for(lambda: not rogue.clients, what="the rogue server to see its client leave")
    finally:
        rogue.close()
    assert result.returncode == 0 and result.stderr == "", result.stderr[-500:]
    said = dict(line.split(" ", 1) for line in result.stdout.replace("bytes escape", "bytes-escape").splitlines())
    assert said["deep"] == "read 190", said
    assert "nested more than 100 deep" in said["deeper"]
    assert all(said[code].startswith("refused") for code in ("escape", "bytes-escape", "octal")), said


@pytest.mark.parametrize(
    "certificate, host, says",
    [
        ("expired", "127.0.0.1", "expired"),
        ("stranger", "127.0.0.1", "self-signed"),
        ("server", "127.0.0.2", "mismatch"),  # a loopback address its certificate does not name
    ],
)
def test_each_tls_failure_says_which_it_is(authority, certificate, host, says):
    cert, key = authority[certificate]
    server = hrpyc.Server(host, 0, certfile=cert, keyfile=key, token=SECRET).start()
    try:
        with pytest.raises(hrpyc.ProtocolError) as caught:
            hrpyc.connect(host, server.address[1], cafile=authority["ca"], token=SECRET, timeout=5)
        assert says in str(caught.value).lower() and "\n" not in str(caught.value)
    finally:
        server.stop()


def test_a_file_that_is_not_a_certificate_is_a_config_error_naming_the_setting(tmp_path, monkeypatch):
    """Named as the user gave it: the keyword argument, or the environment variable."""
    bogus = tmp_path / "cert.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(hrpyc.ConfigError, match="certfile=") as caught:
        hrpyc.Server("127.0.0.1", 0, certfile=str(bogus), keyfile=str(bogus))
    assert "PEM" in str(caught.value) and "\n" not in str(caught.value)
    monkeypatch.setenv("HRPYC_TLS_CERT", str(bogus))
    with pytest.raises(hrpyc.ConfigError, match="HRPYC_TLS_CERT") as caught:
        hrpyc.Server("127.0.0.1", 0, keyfile=str(bogus))
    assert "PEM" in str(caught.value) and "\n" not in str(caught.value)


def test_a_server_that_dies_mid_call_is_a_one_line_error_naming_it(server_process):
    conn = hrpyc.connect(*server_process.address)
    with pytest.raises(hrpyc.ConnectionLostError) as caught:
        conn.modules.os._exit(3)
    assert "{}:{}".format(*server_process.address) in str(caught.value)
    assert isinstance(caught.value, EOFError) and "\n" not in str(caught.value)


@pytest.mark.parametrize("host", ["bad\x00host", "x" * 300])
def test_an_impossible_host_name_is_a_one_line_error(host):
    with pytest.raises(hrpyc.ServerNotFoundError) as caught:
        hrpyc.connect(host, 18811, timeout=2)
    assert "\n" not in str(caught.value)


def test_a_timeout_beyond_what_rpyc_can_wait_is_refused_in_one_line(monkeypatch):
    with pytest.raises(ValueError, match="timeout="):
        hrpyc.connect("127.0.0.1", 18811, timeout=25 * 86400)
    monkeypatch.setenv("HRPYC_TIMEOUT", str(25 * 86400))
    with pytest.raises(hrpyc.ConfigError, match="HRPYC_TIMEOUT"):
        hrpyc.connect("127.0.0.1", 18811)


@pytest.mark.parametrize(
    "value",
    [["a\\", "[", 'it\'s "x"', "\\'", b"\\'\x00\"]"], {"k\\": (b"'", "(\\\\)")}, ("x", bytes(range(256)) * 64)],
    ids=["quotes-and-backslashes", "keys", "bytes"],
)
def test_strings_with_quotes_backslashes_and_brackets_read_back_exactly(value):
    from hrpyc._wire.literal import read_literal

    assert read_literal(repr(value)) == value


def test_brackets_after_a_string_that_ends_in_a_backslash_still_count_towards_the_depth_limit():
    """A string's end is found past its escapes (`'\\\\'` ends there): what follows is counted, not skipped."""
    from hrpyc._wire.literal import MAX_DEPTH, read_literal

    deep = []
    for _ in range(MAX_DEPTH + 20):
        deep = [deep]
    for value in (["\\", deep, "'"], [b"\\", deep, b"'"], ["\\'", deep, "'"], ['\\"', deep, '"']):
        with pytest.raises(ValueError, match="nested more than"):
            read_literal(repr(value))


@pytest.mark.parametrize(
    "answer",
    ["1" + "[1]" * 100000, "f'{" + "1+" * 100000 + "1}'", "(1)" + "(2)" * 100000],
    ids=["index", "f-string", "call"],
)
def test_no_other_expression_reaches_literal_eval(answer):
    """Subscripts, calls and f-strings nest as deep as sums do; plain data never has them."""
    from hrpyc._wire.literal import read_literal

    with pytest.raises(ValueError, match="an expression where plain data should be"):
        read_literal(answer)


def _repeat(motif, size, head="", tail=""):
    return head + motif * max(1, (size - len(head) - len(tail)) // len(motif)) + tail


def _keys_sharing_a_hash(key, size):
    """A set whose keys all share one hash: key(k) for k = 2, 3, ..., `size` characters of it."""
    keys, length, k = [], 2, 2
    while length < size:
        keys.append(key(k))
        length, k = length + len(keys[-1]) + 2, k + 1
    return "{" + ", ".join(keys) + "}"


_MODULUS = sys.hash_info.modulus  # ints a multiple of it apart share their hash
HOSTILE_LITERALS = {  # what a rogue server may answer instead of plain data, `size` characters of each
    "unclosed escaped string": lambda size: _repeat("\\'", size, "'"),
    "unclosed escaped bytes": lambda size: _repeat("\\'", size, "b'"),
    "quotes in an unclosed string": lambda size: _repeat('"', size, "'"),
    "strings of quotes and backslashes": lambda size: _repeat("'\\', ", size, "["),
    "a control character in each string": lambda size: _repeat("'\x01', ", size, "["),
    "bytes of backslashes, unclosed": lambda size: _repeat("\\\\\\'", size, "b'"),
    "1e+1e+": lambda size: _repeat("1e+", size),
    "sums between separators": lambda size: _repeat("1-1-1e-1-", size, "[", "1]"),
    "signs": lambda size: _repeat("-", size, tail="1"),
    "sum": lambda size: _repeat("+1", size, "1"),
    "index chain": lambda size: _repeat("[1]", size, "1"),
    "calls": lambda size: _repeat("(2)", size, "(1)"),
    "nested brackets": lambda size: "[" * (size // 2) + "]" * (size // 2),
    "a million-digit number": lambda size: _repeat("1", size),
    "4300-digit numbers": lambda size: "[" + ", ".join(["9" * 4300] * max(1, size // 4302)) + "]",
    "b'' after b''": lambda size: _repeat("b''", size),
    "b prefixes": lambda size: _repeat("b", size, tail="''"),
    "invalid escapes": lambda size: _repeat("\\d", size, "'", "'"),
    "escapes": lambda size: _repeat("\\x41", size, "'", "'"),
    "commas": lambda size: _repeat(",", size, "[", "]"),
    "spaces": lambda size: _repeat(" ", size, tail="1"),
    "int keys sharing a hash": lambda size: _keys_sharing_a_hash(lambda k: str(_MODULUS * k + 7), size),
    "complex keys sharing a hash": lambda size: _keys_sharing_a_hash(lambda k: "({}-{}j)".format(1000003 * k, k), size),
    "tuple keys sharing a hash": lambda size: _keys_sharing_a_hash(lambda k: "({},)".format(_MODULUS * k + 7), size),
}


@pytest.mark.parametrize("shape", sorted(HOSTILE_LITERALS))
def test_a_megabyte_of_a_rogue_answer_is_read_or_refused_within_two_seconds(shape):
    """The client's whole Python waits while it reads an answer (the GIL is held): linear time, or a
    server freezes it for an hour with a megabyte. Counted in this thread's CPU time, which a loaded
    machine does not stretch as it does the clock's."""
    from hrpyc._wire.literal import read_literal

    text = HOSTILE_LITERALS[shape](1 << 20)
    started = time.thread_time()
    try:
        read_literal(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
    assert time.thread_time() - started < 2


def plain_values(rng, count, depth=3):
    """Random plain data of every kind repr() writes, edge cases first among them."""
    for _ in range(count):
        yield _plain_value(rng, depth)


def _plain_value(rng, depth):
    kind = rng.randrange(10 if depth else 6)
    if kind == 0:
        return rng.choice((0, -1, 2**64, -(10**4299), 10**4300 - 1, rng.randrange(-(10**30), 10**30)))
    if kind == 1:
        special = (-0.0, 1e16, 1.5e-7, 5e-324, 1.7976931348623157e308, 0.1, rng.uniform(-1e6, 1e6))
        return rng.choice(special + (rng.random() * 10.0 ** rng.randrange(-300, 300),))
    if kind == 2:
        return complex(*(rng.choice((0.0, -0.0, 1.5, -2.0, 1e300, rng.random())) for _ in range(2)))
    if kind == 3:  # quotes, backslashes, controls, Latin-1, surrogates, beyond the BMP
        pool = "'\"\\ab \x00\x1f\x7f\x80\xe9\u2028\ufffe\U0001f600\U0010ffff\ud800"
        return "".join(rng.choice(pool) for _ in range(rng.randrange(12)))
    if kind == 4:  # bytes, short or long enough to be read in passes of C, quotes and backslashes among them
        pool = bytes(range(256)) + b"'\"\\" * 40
        return bytes(rng.choice(pool) for _ in range(rng.choice((0, 3, 40, 300))))
    if kind == 5:
        return rng.choice((True, False, None))
    items = [_plain_value(rng, depth - 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return items
    if kind == 7:
        return tuple(items)
    keys = [_plain_value(rng, 0) for _ in items]  # scalars: hashable
    if kind == 8:
        return dict(zip(keys, items))
    return set(keys)


def same(a, b):
    """a == b, and of the same types all the way down, with the signs of zeros."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(value, b[key]) for key, value in a.items())
    return a == b


def test_plain_data_of_every_kind_reads_back_exactly():
    from hrpyc._wire.literal import MAX_DEPTH, read_literal

    for value in plain_values(random.Random(23), 2000):
        assert same(read_literal(repr(value)), value), repr(value)[:200]
    deepest = (-1.5, {b"x": "y"})
    for _ in range(MAX_DEPTH - 2):  # Python 3.7's own parser fails from 93 deep, printing to stderr
        deepest = [deepest, -1]
    assert read_literal(repr(deepest)) == deepest


LITERAL_PIECES = ("'", '"', "\\", "b", "b'", "0", "9", "e", "j", ".", "+", "-", "[", "]", "(", ")", "{", "}", ",", ":")
LITERAL_PIECES += (" ", "None", "set()", "\\x4", "\\u", "\\d", "\x00", "\n", "\xe9", "_", "0x", "1e+", "\\'")


def mutated_literals(rng, count):
    """repr()s of plain data with a few characters inserted, doubled, replaced or cut off."""
    for value in plain_values(rng, count, depth=2):
        text = repr(value)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(text) + 1)
            edit = rng.randrange(4)
            if edit == 0:
                text = text[:at] + rng.choice(LITERAL_PIECES) + text[at:]
            elif edit == 1:
                text = text[:at] + text[at : at + rng.randrange(1, 8)] * 2 + text[at + 8 :]
            elif edit == 2:
                text = text[:at] + rng.choice(LITERAL_PIECES) + text[at + 1 :]
            else:
                text = text[:at]
        yield text


def disagreement(text):
    """How our reader and ast.literal_eval disagree on `text`, if they do: what we read, it reads, to the
    same value; we refuse in one line, only what it refuses or what repr() does not write. Python 3.7-3.8's
    literal_eval does not know set(); our complex numbers keep the signs of their zeros."""
    from hrpyc._wire.literal import read_literal

    try:
        ours = read_literal(text)
    except ValueError as exc:
        ours = exc
        if "\n" in str(exc):
            return "a refusal of more than one line"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the invalid escapes we refuse, SyntaxWarning on 3.12+
        try:
            theirs = ast.literal_eval(text.lstrip(" \t"))  # as 3.10+ does
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            theirs = exc
    if isinstance(ours, ValueError):
        return "refused what repr() writes" if repr(theirs) == text else None
    if isinstance(theirs, Exception):
        return None if "set()" in text and sys.version_info < (3, 9) else "read what literal_eval refuses"
    return None if same(ours, theirs) or (ours == theirs and "j" in text) else "read it differently"


def test_the_reader_refuses_what_literal_eval_refuses_and_reads_the_rest_alike():
    disagreements = [(text, disagreement(text)) for text in mutated_literals(random.Random(23), 3000)]
    assert [(text, what) for text, what in disagreements if what] == []
