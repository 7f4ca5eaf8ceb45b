"""A relay gets nothing: whoever holds a port our client dials, or forwards a challenge to the server,
holds no authenticated connection, and the user is told what was met, in one line."""

import logging
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading

import pytest
import rpyc
from certs import make_authority
from conftest import ServerProcess, child_env, free_port, hrpyc_cli, unavailable, wait_for
from test_security import Squatter

import hrpyc
import hrpyc._auth.proof
import hrpyc._auth.tokens


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    return make_authority(str(tmp_path_factory.mktemp("ca")))


def _tls_files(authority):
    cert, key = authority["server"]
    return {"certfile": cert, "keyfile": key}


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux says who holds a socket")
NOBODY = 65534


def _pump(a, b, heard, limit=30.0):
    """Forward bytes both ways until either side closes; `heard` counts what `a` sent."""
    sockets = [a, b]
    while True:
        ready, _, _ = select.select(sockets, [], [], limit)
        if not ready:
            return
        for sock in ready:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            if sock is a:
                heard.append(len(data))
            (b if sock is a else a).sendall(data)


class Relay(object):
    """A relay as `ssh -L` is one: it listens, and forwards each connection's bytes to `target`,
    as this user (the same machine: an ssh -L forward; or a relay between hosts)."""

    def __init__(self, target, wrap_client=None, wrap_server=None):
        self.heard = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.address = self._listener.getsockname()
        self._target, self._wrap_client, self._wrap_server = target, wrap_client, wrap_server
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client):
        try:
            if self._wrap_client is not None:
                client = self._wrap_client(client)
            upstream = socket.create_connection(self._target, timeout=10)
            if self._wrap_server is not None:
                upstream = self._wrap_server(upstream)
            with client, upstream:
                _pump(client, upstream, self.heard)
        except OSError:
            client.close()

    def close(self):
        self._listener.close()


def _relay_as_another_user(target):
    """A process of another OS user ('nobody') that listens on a port of 127.0.0.1 and forwards the first
    connection to `target`; returns (its pid, its address, a pipe that gives how many bytes it forwarded
    from the client once it is done). Forked: 'nobody' may not read this Python's files."""
    if os.getuid() != 0:
        unavailable("playing another user needs root (CI runs as root)")
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: sockets only, then out
        try:
            os.close(ready_r)
            os.setuid(NOBODY)
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            os.write(ready_w, str(listener.getsockname()[1]).encode() + b"\n")
            listener.settimeout(20)
            client, _ = listener.accept()
            upstream = socket.socket()
            upstream.connect(target)
            heard = []
            _pump(client, upstream, heard, limit=10)
            os.write(ready_w, str(sum(heard)).encode() + b"\n")
        finally:
            os._exit(0)
    os.close(ready_w)
    reader = os.fdopen(ready_r, "rb")
    port = int(reader.readline())
    return pid, ("127.0.0.1", port), reader


@linux_only
@pytest.mark.parametrize("how", ["token='auto'", "HRPYC_TOKEN=auto", "a given token", "no token"])
def test_a_client_never_talks_to_another_users_process_on_this_machine(how, monkeypatch):
    """Attack (a): another user holds a port our client dials (the next one of its range, say) and relays
    to our real server. Our client stops before sending anything, naming the owner."""
    server = hrpyc.Server("127.0.0.1", 0, token="auto" if how != "no token" else None).start()
    pid, relay, forwarded = _relay_as_another_user(server.address)
    try:
        token = {"token='auto'": "auto", "a given token": hrpyc._auth.tokens.auto_token()}.get(how)
        if how == "HRPYC_TOKEN=auto":
            monkeypatch.setenv("HRPYC_TOKEN", "auto")
        with pytest.raises(hrpyc.NotYourServerError, match=r"belongs to another user \(uid 65534\)") as caught:
            hrpyc.connect(*relay, token=token)
        assert "\n" not in str(caught.value)
        assert "127.0.0.1:{}".format(relay[1]) in str(caught.value)
    finally:
        os.waitpid(pid, 0)
        server.stop()
    assert int(forwarded.readline() or 0) == 0, "the client sent bytes to another user's process"
    assert server.clients() == []


@linux_only
def test_the_server_refuses_a_relayed_challenge_from_another_users_process(caplog):
    """The other half of (a): even when our client is told to go on (allow_other_users=True), the server
    refuses the relay's socket, whatever proof comes through it: a token no longer lets other users in."""
    server = hrpyc.Server("127.0.0.1", 0, token="auto").start()
    pid, relay, _ = _relay_as_another_user(server.address)
    try:
        with caplog.at_level(logging.INFO, logger="hrpyc"):
            with pytest.raises(hrpyc.HrpycError):
                hrpyc.connect(*relay, token=hrpyc._auth.tokens.auto_token(), allow_other_users=True)
            wait_for(lambda: "another user (uid 65534)" in caplog.text, what="the refusal")
        assert server.clients() == []
        assert server.only_owner
    finally:
        os.waitpid(pid, 0)
        server.stop()


@linux_only
def test_other_users_get_in_with_a_token_only_where_the_server_allows_other_users():
    server = hrpyc.Server("127.0.0.1", 0, token="s3cret-for-colleagues", allow_other_users=True).start()
    pid, relay, _ = _relay_as_another_user(server.address)
    try:
        conn = hrpyc.connect(*relay, token="s3cret-for-colleagues", allow_other_users=True)
        assert conn.modules.os.getpid() == os.getpid()
        conn.close()
    finally:
        os.waitpid(pid, 0)
        server.stop()


def test_localhost_reaches_the_server_on_127_0_0_1_even_where_it_resolves_to_ipv6_first(monkeypatch):
    """Attack (b): on RHEL, Rocky, Fedora `localhost` resolves to ::1 first; the server listens on
    127.0.0.1, and whoever binds [::1] on its port would be dialled first."""
    server = hrpyc.Server("127.0.0.1", 0, token="auto").start()
    squatter = socket.socket(socket.AF_INET6)
    try:
        squatter.bind(("::1", server.address[1]))
    except OSError as exc:
        unavailable("no IPv6 loopback here ({})".format(exc))
    squatter.listen(1)
    real = socket.getaddrinfo

    def ipv6_first(host, *args, **kwargs):
        found = real(host, *args, **kwargs)
        if host == "localhost":
            v6 = [info for info in real("::1", *args, **kwargs)]
            return v6 + [info for info in found if info[0] == socket.AF_INET]
        return found

    monkeypatch.setattr(socket, "getaddrinfo", ipv6_first)
    try:
        conn, hou = hrpyc.import_remote_module("localhost", server.address[1], name="os")
        assert hou.getpid() == os.getpid()
        conn.close()
        squatter.settimeout(0.2)
        with pytest.raises(socket.timeout):
            squatter.accept()  # nobody dialled it
    finally:
        squatter.close()
        server.stop()


def test_the_auto_token_is_offered_only_to_a_server_this_users_records_name(monkeypatch):
    """HRPYC_TOKEN=auto against a port no session of this user listens on (a squatter of the same user,
    the next port of a range): nothing derived from the token is sent, and the user is told why."""
    hrpyc._auth.tokens.auto_token()  # this user has an auto token
    squatter = Squatter(hrpyc._auth.proof.PROOF + os.urandom(64))
    monkeypatch.setenv("HRPYC_TOKEN", "auto")
    with pytest.raises(hrpyc.NotYourServerError, match="is not one of your hrpyc sessions"):
        hrpyc.connect(*squatter.address)
    squatter.close()
    assert squatter.heard == b""


def test_a_registry_entry_gets_no_proof_unless_the_command_is_given_a_token():
    """Attack (c): anyone may register an address with rpyc's registry; `hrpyc sessions --registry`
    with HRPYC_TOKEN in the environment must not run the challenge with what the entry names."""
    from rpyc.utils.registry import TCPRegistryClient, TCPRegistryServer

    registry = TCPRegistryServer(host="127.0.0.1", port=0)
    threading.Thread(target=registry.start, daemon=True).start()
    wait_for(lambda: registry.active, what="the registry to listen")
    squatter = Squatter(hrpyc._auth.proof.PROOF + os.urandom(64))
    try:
        where = "tcp://127.0.0.1:{}".format(registry.port)
        TCPRegistryClient("127.0.0.1", registry.port).register(("HRPYC",), squatter.address[1])
        listing = hrpyc_cli("sessions", "--registry", where, HRPYC_TOKEN="correct-horse-battery-staple")
        assert "127.0.0.1:{}".format(squatter.address[1]) in listing.stdout
        squatter.close()
        assert hrpyc._auth.proof.MAGIC not in squatter.heard
    finally:
        registry.close()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_token_works_through_an_ssh_style_port_forward(tls, authority):
    """`ssh -L 9000:localhost:18811 farmnode` forwards TCP as this user; with a token (and TLS end to
    end through it) the client connects as if it were there."""
    files = _tls_files(authority) if tls else {}
    server = hrpyc.Server("127.0.0.1", 0, token="s3cret-token", **files).start()
    forward = Relay(server.address)
    try:
        extra = {"cafile": authority["ca"]} if tls else {}
        conn = hrpyc.connect(*forward.address, token="s3cret-token", **extra)
        assert conn.modules.os.getpid() == os.getpid()
        assert bytes(hrpyc.run(conn, "result = b'x' * 300000")) == b"x" * 300000  # the bulk lane too
        conn.close()
    finally:
        forward.close()
        server.stop()


def _accepts(address):
    try:
        socket.create_connection(address, timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(os.name != "posix", reason="OpenSSH's sshd, run here as a test host")
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_token_works_through_a_real_ssh_port_forward(tls, authority, tmp_path):
    """The README's `ssh -L PORT:localhost:18811 host`, with OpenSSH's own sshd and ssh on loopback:
    a token (and TLS end to end) go through, the bulk lane's second socket too."""
    import getpass

    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd) or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        unavailable("OpenSSH (sshd, ssh, ssh-keygen) is not installed: apt-get install openssh-server")
    for name in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
    sshd_port = free_port()
    (tmp_path / "sshd_config").write_text(
        "\n".join(
            [
                "Port {}".format(sshd_port),
                "ListenAddress 127.0.0.1",
                "HostKey {}".format(tmp_path / "host"),
                "AuthorizedKeysFile {}".format(tmp_path / "user.pub"),
                "PidFile {}".format(tmp_path / "sshd.pid"),
                "StrictModes no",
                "UsePAM no",
                "PermitRootLogin yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "AllowTcpForwarding yes",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    if os.getuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # its privilege separation folder
    files = _tls_files(authority) if tls else {}
    server = hrpyc.Server("127.0.0.1", 0, token="s3cret-token", **files).start()
    daemon = subprocess.Popen([sshd, "-D", "-e", "-f", str(tmp_path / "sshd_config")], stderr=subprocess.PIPE)
    forward = None
    try:
        wait_for(lambda: _accepts(("127.0.0.1", sshd_port)), what="sshd to listen")
        local = free_port()
        forward = subprocess.Popen(
            ["ssh", "-N", "-i", str(tmp_path / "user"), "-p", str(sshd_port)]
            + ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
            + ["-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR"]
            + ["-L", "{}:127.0.0.1:{}".format(local, server.address[1]), "{}@127.0.0.1".format(getpass.getuser())],
            stderr=subprocess.PIPE,
        )
        wait_for(lambda: forward.poll() is not None or _accepts(("127.0.0.1", local)), what="the forward")
        assert forward.poll() is None, forward.stderr.read()
        extra = {"cafile": authority["ca"]} if tls else {}
        conn = hrpyc.connect("127.0.0.1", local, token="s3cret-token", **extra)
        assert conn.modules.os.getpid() == os.getpid()
        assert bytes(hrpyc.run(conn, "result = b'x' * 300000")) == b"x" * 300000
        conn.close()
    finally:
        for process in (forward, daemon):
            if process is not None:
                process.terminate()
                process.wait(10)
        server.stop()


def test_a_relay_that_ends_tls_cannot_pass_a_proof_on(authority, caplog):
    """A relay between hosts that holds a certificate the client trusts, and opens its own TLS to the
    server: the proofs are bound to each TLS channel, so what it forwards proves nothing on the other."""
    files = _tls_files(authority)
    server = hrpyc.Server("127.0.0.1", 0, token="s3cret-token", **files).start()
    as_server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    as_server.load_cert_chain(files["certfile"], files["keyfile"])
    as_client = ssl.create_default_context(cafile=authority["ca"])
    relay = Relay(
        server.address,
        wrap_client=lambda sock: as_server.wrap_socket(sock, server_side=True),
        wrap_server=lambda sock: as_client.wrap_socket(sock, server_hostname="127.0.0.1"),
    )
    try:
        with caplog.at_level(logging.INFO, logger="hrpyc"):
            with pytest.raises(hrpyc.AuthenticationError):
                hrpyc.connect(*relay.address, token="s3cret-token", cafile=authority["ca"])
        assert server.clients() == []
    finally:
        relay.close()
        server.stop()


def test_an_older_hrpyc_client_still_authenticates():
    """hrpyc clients from before channel binding (challenge version 3) keep working, unbound."""
    server = hrpyc.Server("127.0.0.1", 0, token="s3cret-token").start()
    try:
        with socket.create_connection(server.address, timeout=5) as sock:
            nonce = os.urandom(hrpyc._auth.proof.NONCE)
            sock.sendall(hrpyc._auth.proof.MAGIC_V3 + nonce)
            answer = b""
            while len(answer) < 65:
                answer += sock.recv(65 - len(answer))
            key = hrpyc._auth.proof.token_key(b"s3cret-token")
            assert answer[33:] == hrpyc._auth.proof.of(key, b"server", nonce, answer[1:33])
            sock.sendall(hrpyc._auth.proof.of(key, b"client", nonce, answer[1:33]))
            assert sock.recv(1) == hrpyc._auth.proof.ACCEPTED
            conn = rpyc.connect_stream(rpyc.SocketStream(sock), rpyc.ClassicService)
            assert conn.modules.os.getpid() == os.getpid()
    finally:
        server.stop()


def speak_and_close_as_another_user(address):
    """A process of another user ('nobody') connects, sends the start of an rpyc frame and closes at once:
    its socket is gone, or in TIME_WAIT, by the time the server asks who held it. Forked, as above."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setuid(NOBODY)
            sock = socket.socket()
            sock.connect(address)
            sock.sendall(b"\x00\x00\x00\x10\x00")
            sock.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


@linux_only
def test_a_socket_closed_before_the_look_up_is_never_taken_for_root(caplog):
    """A client that connects, sends and closes at once leaves a TIME_WAIT (or orphaned) line owned by
    uid 0: that is 'cannot tell', refused, even by a server running as root."""
    if os.getuid() != 0:
        unavailable("playing another user against a root server needs root (CI runs as root)")
    server = hrpyc.Server("127.0.0.1", 0).start()
    admitted = []
    hrpyc.subscribe(lambda event: admitted.append(event) if event.kind == "connected" else None)
    try:
        with caplog.at_level(logging.INFO, logger="hrpyc"):
            for _ in range(50):
                speak_and_close_as_another_user(server.address)
            wait_for(lambda: "cannot tell" in caplog.text or "another user" in caplog.text, what="a refusal")
        assert admitted == []
        assert server.clients() == []
    finally:
        server.stop()


# An OpenSSL that would accept TLS 1.0 were it left to decide (as a 1.1.1 build does): what the ends get
# must come from hrpyc's own code. OpenSSL reads it when a process starts, so the checks run in children.
LAX_OPENSSL = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1
CipherString = DEFAULT@SECLEVEL=0
"""
TLS_ENDS = """
import socket, ssl, sys, threading
import hrpyc
cert, key, ca = sys.argv[1:4]

def legacy(context):
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version, context.maximum_version = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1
    return context

server = hrpyc.Server("127.0.0.1", 0, token="s3cret-token", certfile=cert, keyfile=key).start()
old = legacy(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
old.load_verify_locations(ca)
try:
    old.wrap_socket(socket.create_connection(server.address, timeout=5), server_hostname="127.0.0.1")
    print("server: accepted", flush=True)
except (ssl.SSLError, OSError):
    print("server: refused", flush=True)
server.stop()

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
answering = legacy(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
answering.load_cert_chain(cert, key)

def answer():
    sock, _ = listener.accept()
    try:
        answering.wrap_socket(sock, server_side=True).recv(1)
    except (ssl.SSLError, OSError):
        pass

threading.Thread(target=answer, daemon=True).start()
try:
    hrpyc.connect(*listener.getsockname(), token="s3cret-token", cafile=ca, timeout=5)
except hrpyc.ProtocolError as exc:
    print("client: refused" if "TLS failed" in str(exc) else "client: " + str(exc), flush=True)
except hrpyc.HrpycError as exc:
    print("client: went on ({})".format(type(exc).__name__), flush=True)
"""


def test_tls_below_1_2_is_refused_on_both_ends(authority, tmp_path):
    (tmp_path / "openssl.cnf").write_text(LAX_OPENSSL)
    cert, key = authority["server"]
    done = subprocess.run(
        [sys.executable, "-c", TLS_ENDS, cert, key, authority["ca"]],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(OPENSSL_CONF=str(tmp_path / "openssl.cnf")),
    )
    assert done.stdout.splitlines() == ["server: refused", "client: refused"], done.stdout + done.stderr


def test_tls_1_0_and_1_1_are_refused_to_openssl_s_client(authority, tmp_path):
    if shutil.which("openssl") is None:
        unavailable("the openssl command is not installed")
    (tmp_path / "openssl.cnf").write_text(LAX_OPENSSL)
    cert, key = authority["server"]
    server = ServerProcess(
        "--token", "s3cret-token", HRPYC_TLS_CERT=cert, HRPYC_TLS_KEY=key, OPENSSL_CONF=str(tmp_path / "openssl.cnf")
    )
    try:
        for flag in ("-tls1", "-tls1_1", "-tls1_2"):
            done = subprocess.run(
                ["openssl", "s_client", flag, "-connect", "127.0.0.1:{}".format(server.port)],
                input=b"",
                capture_output=True,
                timeout=30,
                env=dict(os.environ, OPENSSL_CONF=str(tmp_path / "openssl.cnf")),
            )
            said = done.stdout.decode(errors="replace")
            if flag == "-tls1_2":
                assert done.returncode == 0 and "TLSv1.2" in said, said
            else:
                assert done.returncode != 0, (flag, said)
    finally:
        server.close()


def test_servers_started_at_once_agree_on_the_auto_token(tmp_path, monkeypatch):
    """Eight servers with token='auto' starting at the same moment, a hundred times over: they all end
    up with the one token the file holds (before: read, find nothing, write - the last writer won)."""
    for round_ in range(100):
        monkeypatch.setenv("HRPYC_STATE_DIR", str(tmp_path / str(round_)))
        start = threading.Barrier(8)
        tokens = []

        def server_starts(start=start, tokens=tokens):
            start.wait()
            tokens.append(hrpyc._auth.tokens.auto_token())

        threads = [threading.Thread(target=server_starts) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(tokens)) == 1 and tokens[0], round_
        assert tokens[0] == hrpyc._auth.tokens.auto_token(create=False)
