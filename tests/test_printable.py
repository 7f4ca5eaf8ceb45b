"""Nothing a server, registry, session record or client says reaches a terminal, a log or the panel raw:
control characters escaped, lengths bounded, odd fields shown as `?`, odd answers one line - and the
`hrpyc` command exits cleanly whatever a rogue server or registry answers."""

import json

import pytest
from conftest import free_port
from rogue import (
    HOSTILE,
    HOSTILE_CLIENTS,
    MEGABYTE,
    ODD_ANSWERS,
    ODD_FIELDS,
    FakeRegistry,
    Registry,
    RogueServers,
    hrpyc_bytes,
    raw_controls,
    shell_output,
)

import hrpyc
from hrpyc._common import sessions, userdir
from hrpyc._common.printable import printable

BOUND = 10_000  # bytes of output a listing of a few rogue answers stays under (a megabyte was sent)


@pytest.fixture
def rogue():
    servers = RogueServers()
    yield servers
    servers.close()


class Touchy(object):
    """Stands for a proxy: touching it in any way but `type()` would call back into the peer."""

    def __getattribute__(self, name):
        raise AssertionError("touched " + name)


def test_what_a_peer_says_is_escaped_bounded_and_odd_values_are_a_question_mark():
    shown = printable(HOSTILE)
    assert shown.isprintable() and "\\x1b[2J" in shown and "\\u202e" in shown and "\\x9b" in shown
    assert printable(shown) == shown  # escaping twice changes nothing
    assert printable("Houdini 20.5 sc\u00e8ne \u65e5\u672c") == "Houdini 20.5 sc\u00e8ne \u65e5\u672c"
    cut = printable("x" * MEGABYTE + HOSTILE, 64)
    assert len(cut) == 64 and cut.endswith("...")
    for odd in (5, None, b"\x1b[2J", ("nested", (HOSTILE,)), Touchy()):
        assert printable(odd) == "?"
    traceback = printable("Traceback\n  File x\x1b[2J\r\nValueError: \u202e", 1000, lines=True)
    assert traceback == "Traceback\n  File x\\x1b[2J\\r\nValueError: \\u202e"


def test_how_a_rogue_server_says_a_job_was_cancelled_is_escaped_in_the_error(rogue):
    connection = hrpyc.connect("127.0.0.1", rogue.start((("hrpyc", "rogue"),)))
    with pytest.raises(hrpyc.CancelledError) as raised:
        hrpyc.run(connection, "result = 1")
    connection.close()
    said = str(raised.value)
    assert said.isprintable() and "\\x1b[2J" in said and len(said) < 1000


def test_a_rogue_servers_word_on_a_jobs_progress_is_bounded_escaped_or_one_line(rogue):
    connection = hrpyc.connect("127.0.0.1", rogue.start((("hrpyc", "rogue"),)))
    fraction, message = hrpyc.submit(connection, "report progress").progress
    assert fraction == 0.0  # nan, as near to 0 to 1 as it gets
    assert message.isprintable() and message.startswith("\\x1b[2J") and len(message) == 200
    odd_message = hrpyc.connect("127.0.0.1", rogue.start((("hrpyc", "rogue"),), progress=(0.5, 7)))
    assert hrpyc.submit(odd_message, "report progress").progress == (0.5, "?")
    odd_message.close()
    for odd in ([0.5, "a list: a proxy"], (1, "not a float"), 0.5):
        odd_connection = hrpyc.connect("127.0.0.1", rogue.start((("hrpyc", "rogue"),), progress=odd))
        with pytest.raises(hrpyc.ProtocolError, match="its answer about a job is not one") as raised:
            hrpyc.submit(odd_connection, "report progress")
        assert "\n" not in str(raised.value)
        odd_connection.close()
    connection.close()


def assert_clean(result, bound=BOUND, output=None):
    """The command's output holds no raw control character, stays bounded, and shows no traceback."""
    output = result.stdout + result.stderr if output is None else output
    assert raw_controls(output) == 0, output[:2000]
    assert len(output) < bound, output[:2000]
    assert b"Traceback (most recent call last)" not in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("answer", sorted(ODD_FIELDS))
def test_ping_shows_a_rogue_servers_odd_fields_escaped_or_as_a_question_mark(rogue, answer):
    port = rogue.start(ODD_FIELDS[answer])
    result = hrpyc_bytes("ping", "127.0.0.1:{}".format(port))
    assert result.returncode == 0, result.stderr[-2000:]
    assert_clean(result)
    assert result.stdout.count(b"\n") == 1 and b"is alive: hrpyc " in result.stdout
    if answer == "escapes":
        assert b"hrpyc\\x1b[2J\\x1b]0;pwned\\x07\\rhrpyc: fake\\n\\x07\\u202eevil\\u2028\\x7f\\x9b31m" in result.stdout
    if answer in ("wrong types", "proxies"):
        assert b"hrpyc ? in plain Python (pid ?), Python ?" in result.stdout


@pytest.mark.parametrize("answer", sorted(ODD_ANSWERS))
def test_ping_says_in_one_line_that_a_rogue_servers_answer_is_not_one(rogue, answer):
    port = rogue.start(ODD_ANSWERS[answer])
    result = hrpyc_bytes("ping", "127.0.0.1:{}".format(port))
    assert result.returncode == 1
    assert_clean(result)
    said = "hrpyc: 127.0.0.1:{} accepted the connection but did not answer as an rpyc server".format(port)
    assert result.stderr.startswith(said.encode()) and result.stderr.count(b"\n") == 1, result.stderr[-2000:]


def test_the_shell_banner_and_a_servers_traceback_are_escaped_and_bounded(rogue):
    port = rogue.start(ODD_FIELDS["escapes"])
    result = hrpyc_bytes("shell", "127.0.0.1:{}".format(port), stdin=b"connection.root.boom()\nprint('after')\n")
    assert result.returncode == 0, result.stderr[-2000:]
    output = shell_output(result)
    assert_clean(result, bound=30_000, output=output)  # the traceback's share: 20,000 characters
    assert b"hrpyc shell: this prompt runs here" in output
    assert b"hrpyc\\x1b[2J" in output  # the banner's description of the server
    assert b"Traceback in the server" in result.stderr and b'File "<\\x1b[2J' in result.stderr
    assert b"ValueError: \\x1b[2J" in result.stderr and b"after" in result.stdout


def test_sessions_registry_lists_rogue_servers_and_entries_escaped(rogue):
    registry = Registry()
    try:
        for answer in list(ODD_FIELDS.values()) + list(ODD_ANSWERS.values()):
            registry.register(rogue.start(answer))
        registry.register(HOSTILE)  # rpyc's registry records whatever port it is told
        registry.register(("nested", (HOSTILE,)))
        result = hrpyc_bytes("sessions", "--registry", registry.address)
    finally:
        registry.close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert_clean(result, bound=2 * BOUND)
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + len(ODD_FIELDS) + len(ODD_ANSWERS) + 1, result.stdout
    assert lines[-1] == b"hrpyc: the registry holds 2 entries that are not an address and port; they are left out"
    assert sum(b"did not answer as an rpyc server" in line for line in lines) == len(ODD_ANSWERS)


@pytest.mark.parametrize(
    "reply, says",
    [
        (((HOSTILE, 1), ("127.0.0.1", HOSTILE), ("127.0.0.1", 99999), HOSTILE), "holds 4 entries that are not"),
        (HOSTILE, "answered with something else than a registry's list"),
        # within rpyc's 1500-byte datagram: Windows drops a longer one (WSAEMSGSIZE), rpyc then hears nothing
        ((HOSTILE.encode("utf-8") * 100)[:1400], "answered with something else than a registry's list"),
    ],
    ids=["hostile entries", "a string", "not brine"],
)
def test_sessions_registry_says_in_one_line_what_a_rogue_registry_answered(reply, says):
    registry = FakeRegistry(reply) if isinstance(reply, bytes) else FakeRegistry.of_entries(reply)
    try:
        result = hrpyc_bytes("sessions", "--registry", registry.address)
    finally:
        registry.close()
    assert_clean(result)
    assert says.encode() in result.stdout + result.stderr and (result.stdout + result.stderr).count(b"\n") == 1


def record(listening, **fields):
    """A session record of this (live) process on port `listening`, with `fields` written over what a
    server writes."""
    path = sessions.register({"port": listening, "host": "127.0.0.1"})
    written = dict(json.loads(userdir.read_private(path)), **fields)
    userdir.write_private(path, json.dumps(written))


def test_sessions_shows_hostile_session_records_escaped_even_on_an_ascii_console(rogue):
    clients_port = rogue.start(ODD_FIELDS["escapes"], clients=HOSTILE_CLIENTS)
    record(clients_port, scene="/proj/sc\u00e8ne/" + HOSTILE + "x" * MEGABYTE, user=HOSTILE, houdini=HOSTILE)
    record(free_port(), host=HOSTILE, python=5, auth=[HOSTILE], dispatch={"a": HOSTILE}, started=1e300, demo=True)
    record(free_port(), port=HOSTILE)  # not a record a server writes: left out
    ascii_console = {"PYTHONIOENCODING": "ascii"}

    listing = hrpyc_bytes("sessions", **ascii_console)
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert_clean(listing)
    assert len(listing.stdout.splitlines()) == 3  # the header and two sessions
    assert b"/proj/sc\\xe8ne/\\x1b[2J" in listing.stdout and b"Houdini \\x1b[2J" in listing.stdout
    assert b"the demo scene (Python ?), not Houdini" in listing.stdout

    with_clients = hrpyc_bytes("sessions", "--clients", **ascii_console)
    assert with_clients.returncode == 0, with_clients.stderr[-2000:]
    assert_clean(with_clients)
    assert b"\\x1b[2J" in with_clients.stdout and b"does not answer" in with_clients.stdout

    unchosen = hrpyc_bytes("ping", **ascii_console)  # two sessions: it names them, and asks for one
    assert unchosen.returncode == 1
    assert_clean(unchosen)
    assert unchosen.stderr.startswith(b"hrpyc: 2 hrpyc sessions run on this machine: port ")
