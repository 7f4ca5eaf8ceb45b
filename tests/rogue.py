"""A rogue server and rogue registries in this process, answering what an attacker would, and the `hrpyc`
command run against them with its output kept as bytes. The tests and bench/robustness.py share them.
"""

import os
import re
import socket
import subprocess
import sys
import threading

import rpyc
from conftest import child_env, wait_for
from rpyc.core import brine
from rpyc.utils.registry import UDPRegistryClient, UDPRegistryServer
from rpyc.utils.server import ThreadedServer

# Clear the screen, retitle the terminal, fake a line, ring, reverse the text, end the line, DEL, and the
# C1 form of "ESC [" that 8-bit terminals obey.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\rhrpyc: fake\n\x07\u202eevil\u2028\x7f\x9b31m"
MEGABYTE = 1 << 20
FIELDS = ("hrpyc", "houdini", "pid", "python", "rpyc", "dispatch", "busy_for")

# hrpyc_hello answers: the first ones odd field by field (shown as escaped text or `?`), the rest odd
# as a whole (one line, exit status 1).
ODD_FIELDS = {
    "escapes": tuple((name, name + HOSTILE) for name in FIELDS),
    "megabyte": (("hrpyc", "x" * MEGABYTE + HOSTILE), ("python", HOSTILE * (MEGABYTE // len(HOSTILE)))),
    "wrong types": (("hrpyc", 5), ("python", None), ("pid", ("nested", ("tuple", HOSTILE))), ("rpyc", b"\x1b[2J")),
    "proxies": (("hrpyc", {"a": HOSTILE}), ("python", [HOSTILE])),  # sent by reference: never to be touched
    "many pairs": tuple(("k{}".format(i), HOSTILE) for i in range(10000)),
}
ODD_ANSWERS = {
    "not pairs": (HOSTILE, (HOSTILE,), ((HOSTILE, HOSTILE), HOSTILE)),
    "a string": HOSTILE * 1000,
    "a number": 42,
    "a proxy": {"hrpyc": HOSTILE},
    "an error": ValueError(HOSTILE * 1000),
}
ANSWERS = dict(ODD_FIELDS, **ODD_ANSWERS)
HOSTILE_CLIENTS = (
    (("id", "1"), ("address", HOSTILE), ("port", "x"), ("program", HOSTILE), ("user", "x" * MEGABYTE)),
    (("id", HOSTILE), ("connected_at", "1e999"), ("host", 5)),
    HOSTILE,
)


class Rogue(rpyc.SlaveService):
    """Answers our client's handshake with `answer` (raises it if it is an error), the clients listing
    with `clients`, a job's progress with `progress`, and `boom()` with an error whose message and
    traceback are hostile."""

    answer = ()
    clients = ()
    progress = (float("nan"), HOSTILE * 1000)

    def hrpyc_hello(self, timeout, client=()):
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def hrpyc_clients(self):
        return self.clients

    def hrpyc_submit(self, source, *request):
        if source == "report progress":
            return (2, "running", (), None, self.progress)  # job 2 runs, and says this of how far it is
        return (1, "cancelled", (), HOSTILE * 1000)  # job 1 was cancelled, and this is how

    def hrpyc_job_news(self, job_id, index, wait):
        return ("running", (), None, self.progress)

    def boom(self):
        code = compile("raise ValueError(text)", "<{}>".format(HOSTILE), "exec")
        exec(code, {"text": HOSTILE + "x" * MEGABYTE})


class RogueServers(object):
    """Rogue servers on free ports of 127.0.0.1, each answering its own way; close() stops them all."""

    def __init__(self):
        self.servers = []

    def start(self, answer, clients=(), **answers):
        service = type("Rogue", (Rogue,), dict(answers, answer=answer, clients=clients))
        server = ThreadedServer(service, hostname="127.0.0.1", port=0, protocol_config={})
        threading.Thread(target=server.start, daemon=True).start()
        wait_for(lambda: server.active, what="the rogue server to listen")
        self.servers.append(server)
        return server.port

    def close(self):
        for server in self.servers:
            # rpyc's own server raises in its connection thread when close() pulls a socket it still serves
            wait_for(lambda server=server: not server.clients, what="the rogue server's clients to leave")
            server.close()


class Registry(object):
    """rpyc's own UDP registry on a free port of 127.0.0.1, which records whatever port anyone registers."""

    def __init__(self):
        self.server = UDPRegistryServer(host="127.0.0.1", port=0)
        threading.Thread(target=self.server.start, daemon=True).start()
        wait_for(lambda: self.server.active, what="the registry to listen")
        self.address = "udp://127.0.0.1:{}".format(self.server.port)

    def register(self, port):
        assert UDPRegistryClient(ip="127.0.0.1", port=self.server.port).register(("HRPYC",), port)

    def close(self):
        self.server.close()


class FakeRegistry(object):
    """A UDP socket that answers any query with `reply` (bytes), as a rogue registry would."""

    def __init__(self, reply):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = "udp://127.0.0.1:{}".format(self.sock.getsockname()[1])
        self.sock.settimeout(0.2)
        self.reply = reply
        self.closed = False
        threading.Thread(target=self._answer, daemon=True).start()

    @classmethod
    def of_entries(cls, entries):
        return cls(brine.dump(entries))

    def _answer(self):
        while not self.closed:
            try:
                _, peer = self.sock.recvfrom(65536)
                self.sock.sendto(self.reply, peer)
            except OSError:  # socket.timeout: look at `closed` again
                continue
        self.sock.close()

    def close(self):
        self.closed = True


def hrpyc_bytes(*args, stdin=b"", **env):
    """The `hrpyc` command, run as a user runs it, its output kept as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "hrpyc", *args], input=stdin, capture_output=True, env=child_env(**env), timeout=120
    )


# IPython 7 titles the terminal as it starts ("IPython: <folder>") and restores the title at exit, whether
# or not its output is a terminal: its own sequences, not the server's.
IPYTHON_TITLE = re.compile(rb"\x1b\[2[23];0t|\x1b\]0;IPython: [^\x00-\x1f]*\x07")


def shell_output(result):
    """What `hrpyc shell` printed, IPython's own title sequences left out."""
    return IPYTHON_TITLE.sub(b"", result.stdout) + result.stderr


def raw_controls(data):
    """Bytes a terminal would obey rather than show: C0 controls but the line feed, DEL, C1 controls. A
    line ends in CR LF where Python writes text so (Windows); a CR anywhere else counts."""
    if os.linesep == "\r\n":
        data = data.replace(b"\r\n", b"\n")
    return sum(1 for byte in data if (byte < 0x20 and byte != 0x0A) or 0x7F <= byte <= 0x9F)
