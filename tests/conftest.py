"""Fixtures: real hrpyc servers in separate processes, serving the stand-in `hou`."""

import atexit
import importlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from stock_server import StockServer

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the panel's tests run without a screen

import hrpyc
from hrpyc._wire.client_info import from_pairs

TESTS = os.path.dirname(os.path.abspath(__file__))
# `hrpyc mcp` needs the MCP SDK, which needs Python 3.10+: on older rows (Houdini 19.0's Python 3.7) its
# tests are not collected at all - by design, not a skip that would hide a missing install.
collect_ignore = [] if sys.version_info >= (3, 10) else ["test_mcp.py"]
STANDIN = os.path.join(TESTS, "standin")
LIBS = os.path.join(os.path.dirname(TESTS), "python3.7libs")


def pytest_configure(config):
    """Never the user's own per-user folder, even outside a test (collection, a late teardown): each test
    gets a folder of its own (`isolated`); this one catches the rest, and child processes inherit it."""
    os.environ["HRPYC_STATE_DIR"] = tempfile.mkdtemp(prefix="hrpyc-tests-")
    atexit.register(shutil.rmtree, os.environ["HRPYC_STATE_DIR"], ignore_errors=True)


def in_ci():
    """CI=true (or 1): the environment has everything, so nothing may be skipped but what an OS cannot run."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def unavailable(why):
    """What a test needs is missing: a skip on a developer's machine, a failure in CI on Linux (elsewhere a
    skip that README.md must name: see _unexplained_skips)."""
    if in_ci() and sys.platform.startswith("linux"):
        pytest.fail("CI=true and " + why, pytrace=False)
    pytest.skip(why, allow_module_level=True)


def need(module, why):
    """Import `module` and return it; if it cannot be imported, `unavailable` (usable at module level)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = "{} ({})".format(why, error)
    unavailable(missing)


def _named_in_the_readme():
    """The tests README's "Windows and macOS" section names as ones an OS (or Wine) cannot run, with why."""
    with open(os.path.join(os.path.dirname(TESTS), "README.md"), encoding="utf-8") as readme:
        text = readme.read()
    start = text.find("\n## Windows and macOS\n")
    section = text[start : text.find("\n## ", start + 1)] if start >= 0 else ""
    return set(re.findall(r"`(test_\w+)(?:\.py)?`", section))


_skipped = []
# HRPYC_TEST_PROGRESS=FILE: each test's outcome is appended to FILE as it ends ("passed", "skipped" or
# "failed", then its id), and a run that finds FILE leaves out the tests it says passed: .ci/windows.sh runs
# again the rest of a share whose Wine server crashed under it.
PROGRESS = os.environ.get("HRPYC_TEST_PROGRESS")
_outcomes = {}


def _passed_before():
    if not PROGRESS or not os.path.exists(PROGRESS):
        return set()
    with open(PROGRESS, encoding="utf-8") as progress:
        return {line.split(" ", 1)[1] for line in progress.read().splitlines() if line.startswith("passed ")}


def pytest_collection_modifyitems(config, items):
    """HRPYC_TEST_SHARD=K/N: this run takes every Nth test, from the Kth on, so that N runs side by side
    share the suite (.ci/windows.sh, where every process start is slow); slow and quick tests interleave
    in every file, so each share takes about as long. Then HRPYC_TEST_PROGRESS leaves out what passed."""
    shard = os.environ.get("HRPYC_TEST_SHARD")
    kept = items
    if shard:
        first, every = (int(part) for part in shard.split("/"))
        kept = items[first - 1 :: every]
    passed = _passed_before()
    kept = [item for item in kept if item.nodeid not in passed]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def pytest_collectreport(report):
    if report.skipped:
        _skipped.append(report)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report)
    if report.failed or report.skipped:
        _outcomes.setdefault(report.nodeid, "failed" if report.failed else "skipped")
    if PROGRESS and report.when == "teardown":
        with open(PROGRESS, "a", encoding="utf-8") as progress:
            progress.write("{} {}\n".format(_outcomes.get(report.nodeid, "passed"), report.nodeid))


def _unexplained_skips():
    """In CI a skip is a failure - it would hide an area the run claims to cover - unless the README names
    the test among those Windows or macOS cannot run (and says what covers its area there)."""
    named = set() if sys.platform.startswith("linux") else _named_in_the_readme()  # Linux runs everything
    return [r for r in _skipped if _test_name(r.nodeid) not in named]


def _test_name(nodeid):
    """test_x for tests/test_m.py::test_x[param]; test_m for tests/test_m.py (a module skipped whole)."""
    return os.path.splitext(nodeid.split("::")[-1].split("[")[0].rsplit("/", 1)[-1])[0]


def pytest_sessionfinish(session, exitstatus):
    if in_ci() and _unexplained_skips() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    unexplained = _unexplained_skips() if in_ci() else []
    if unexplained:
        terminalreporter.write_line(
            'CI=true: {} skipped that README.md\'s "Windows and macOS" does not name, which fails the run:'.format(
                len(unexplained)
            ),
            red=True,
        )
        for report in unexplained:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            terminalreporter.write_line("  {}: {}".format(report.nodeid, reason), red=True)


def child_env(**extra):
    """The environment of a child Python: our package and the stand-in hou importable."""
    env = dict(os.environ)
    env.pop("HRPYC_DISPATCH", None)
    env["PYTHONPATH"] = os.pathsep.join([LIBS, STANDIN, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def hrpyc_cli(*args, stdin=None, **env):
    """The `hrpyc` command, run as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "hrpyc", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=child_env(**env),
        timeout=60,
    )


SESSIONS = os.path.join(TESTS, "sessions")


def _ctrl_c_as_in_a_terminal():
    """A process started in a terminal takes Ctrl-C; one whose parent ignores SIGINT (a job started
    with `&` by a script, as some CI runners do) would inherit the ignoring, and Python then never
    raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _under_wine():
    if os.name != "nt":
        return False
    import ctypes

    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


UNDER_WINE = _under_wine()
# The name of the event a Windows test Python under Wine waits on, to play Ctrl-Break (.ci/windows.sh).
WINE_CTRL_BREAK_EVENT = "hrpyc-test-ctrl-break-{}"


def ctrl_c_able(env):
    """Popen's arguments (`env` included) for a child that must take Ctrl-C as from its terminal.
    Windows cannot send SIGINT to another process: the child gets a process group of its own, and
    `send_ctrl_c` sends it Ctrl-Break (Python raises KeyboardInterrupt for it only where SIGBREAK is
    handled). Wine cannot send Ctrl-Break (its console server implements CTRL_C_EVENT only, and a
    process whose output is a pipe has no console): there the row's Wine-only sitecustomize plays it
    when a named event is set (.ci/windows.sh)."""
    if os.name != "nt":
        return {"env": env, "preexec_fn": _ctrl_c_as_in_a_terminal}
    if UNDER_WINE:
        env = dict(env, HRPYC_TEST_WINE_CTRL_BREAK="1")
    return {"env": env, "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}


# A console's Ctrl-C reaches a script as KeyboardInterrupt; a test can send a child only Ctrl-Break on
# Windows, which a script of the tests' own (`python -c`) takes as Ctrl-C when it begins with this.
BREAK_AS_CTRL_C = "from hrpyc._oslayer import console\nconsole.break_interrupts()\n"


def send_ctrl_c(proc):
    """Ctrl-C as a terminal sends it (Ctrl-Break on Windows) to a child started with `ctrl_c_able`."""
    if os.name != "nt":
        proc.send_signal(signal.SIGINT)
    elif not UNDER_WINE:
        proc.send_signal(signal.CTRL_BREAK_EVENT)
    else:
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        event = kernel32.OpenEventW(0x0002, False, WINE_CTRL_BREAK_EVENT.format(proc.pid))  # EVENT_MODIFY_STATE
        if not event:
            raise OSError(ctypes.get_last_error(), "the child has no Ctrl-Break event (not a row interpreter?)")
        kernel32.SetEvent(event)
        kernel32.CloseHandle(event)


# What a process costs, for the tests that bound it: /proc on Linux, the Win32 API on Windows.
PROCESS_STATS = sys.platform.startswith("linux") or os.name == "nt"
needs_process_stats = pytest.mark.skipif(
    not PROCESS_STATS, reason="reads a process's memory, CPU or open files: /proc or the Win32 API, not on macOS"
)
# Wine answers these two with numbers that never move: GetProcessTimes of another process keeps its
# first value, GetProcessHandleCount answers 0 (a test could only pass without measuring).
needs_cpu_times = pytest.mark.skipif(UNDER_WINE, reason="Wine does not update another process's CPU times")
needs_handle_count = pytest.mark.skipif(UNDER_WINE, reason="Wine's GetProcessHandleCount always answers 0")


def _win32_process(pid):
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        raise ctypes.WinError(ctypes.get_last_error())
    return kernel32, wintypes.HANDLE(handle)


def _win32_memory(pid):
    """A process's PROCESS_MEMORY_COUNTERS, in bytes: peak, resident, ..., committed, peak committed."""
    import ctypes

    class Counters(ctypes.Structure):
        sizes = ("peak", "resident", "p1", "p2", "p3", "p4", "committed", "peak_committed")
        _fields_ = [("cb", ctypes.c_ulong), ("faults", ctypes.c_ulong)] + [(name, ctypes.c_size_t) for name in sizes]

    kernel32, handle = _win32_process(pid)
    counters = Counters(cb=ctypes.sizeof(Counters))
    try:
        if not kernel32.K32GetProcessMemoryInfo(handle, ctypes.byref(counters), counters.cb):
            raise ctypes.WinError(ctypes.get_last_error())
    finally:
        kernel32.CloseHandle(handle)
    return counters


def _linux_status(pid):
    with open("/proc/{}/status".format(pid)) as status:
        fields = (line.split(":", 1) for line in status)
        return {name: int(value.split()[0]) / 1024 for name, value in fields if "kB" in value}


def memory_mb(pid=None):
    """(resident, peak) memory of a process (this one by default), in MB."""
    pid = pid or os.getpid()
    if os.name == "nt":
        counters = _win32_memory(pid)
        return counters.resident / (1 << 20), counters.peak / (1 << 20)
    fields = _linux_status(pid)
    return fields["VmRSS"], fields["VmHWM"]


def asked_peak_mb():
    """The most memory this process has asked the system for, touched or not (Linux's VmPeak, Windows' peak
    commit), in MB: what a buffer taken before its bytes arrive costs."""
    if os.name == "nt":
        return _win32_memory(os.getpid()).peak_committed / (1 << 20)
    return _linux_status(os.getpid())["VmPeak"]


def cpu_seconds(pid):
    """The CPU time (user and system) a process has used, in seconds."""
    if os.name == "nt":
        import ctypes
        from ctypes import wintypes

        kernel32, handle = _win32_process(pid)
        times = [wintypes.FILETIME() for _ in range(4)]  # created, exited, kernel, user
        try:
            if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
                raise ctypes.WinError(ctypes.get_last_error())
        finally:
            kernel32.CloseHandle(handle)
        return sum((t.dwHighDateTime << 32 | t.dwLowDateTime) / 1e7 for t in times[2:])
    with open("/proc/{}/stat".format(pid)) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_handles():
    """How many files and sockets this process holds open (on Windows: all its kernel handles)."""
    if os.name == "nt":
        import ctypes

        kernel32, handle = _win32_process(os.getpid())
        count = ctypes.c_ulong()
        try:
            if not kernel32.GetProcessHandleCount(handle, ctypes.byref(count)):
                raise ctypes.WinError(ctypes.get_last_error())
        finally:
            kernel32.CloseHandle(handle)
        return count.value - 1  # not the handle we asked with
    return len(os.listdir("/proc/self/fd"))


STARTS_WITHIN = 60  # seconds for a server process to say where it serves (a Windows one under Wine: 2-5)


class ServerProcess(object):
    """A process serving hrpyc on a free port of 127.0.0.1: by default `python -m hrpyc serve`,
    or one of the session scripts in tests/sessions (a graphical Houdini, a Qt application)."""

    def __init__(self, *args, session=None, **env):
        argv = [os.path.join(SESSIONS, session)] if session else ["-m", "hrpyc", "serve", "--port", "0"]
        self.proc = subprocess.Popen(
            [sys.executable, *argv, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **ctrl_c_able(child_env(**env)),
        )
        first = []  # read by a thread: a child that hangs before its first line fails the test, not the run
        reader = threading.Thread(target=lambda: first.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(STARTS_WITHIN)
        line = first[0] if first else ""
        match = re.search(r"serving on (\S+):(\d+) \(dispatch: (\w+)", line)
        if not match:
            self.proc.kill()
            said = self.proc.stderr.read() if first else "(nothing within {} s)".format(STARTS_WITHIN)
            raise RuntimeError("server did not start: {!r} {}".format(line, said))
        self.host, self.port, self.dispatch = match.group(1), int(match.group(2)), match.group(3)
        self.first_line = line

    @property
    def address(self):
        return self.host, self.port

    def tell(self, command):
        """A line on the session's stdin (sessions obey `stop` and `quit`)."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout=20):
        """End the session; returns its remaining stdout."""
        out, _ = self.proc.communicate(timeout=timeout)
        return out

    def interrupt(self, timeout=10):
        """Ctrl-C, as a terminal sends it; returns (exit code, stdout, stderr)."""
        send_ctrl_c(self.proc)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def gui_houdini():
    """A graphical Houdini session (stand-ins): requests must run on its main thread."""
    server = ServerProcess(session="gui_houdini.py")
    yield server
    server.close()


@pytest.fixture
def server_process():
    server = ServerProcess()
    yield server
    server.close()


@pytest.fixture
def remote(server_process):
    """(connection, hou) to a fresh server process."""
    conn, hou = hrpyc.import_remote_module(server_process.host, server_process.port)
    yield conn, hou
    conn.close()


@pytest.fixture
def stock_server():
    """Starts stock rpyc servers, as SideFX's hrpyc starts one (tests/stock_server.py), each in its own
    process: stock_server(python=sys.executable, service="slave", code=None) -> StockServer. All are
    killed afterwards."""
    started = []

    def start(python=sys.executable, service="slave", code=None):
        server = StockServer(python, service=service, code=code)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def local_server():
    """An hrpyc.Server in this process on a free port, stopped afterwards."""
    server = hrpyc.Server("127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Each test: its own per-user folder (tokens, session records), no HRPYC_* from the outside,
    and no module server left running."""
    for name in [n for n in os.environ if n.startswith("HRPYC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HRPYC_STATE_DIR", str(tmp_path / "state"))
    if UNDER_WINE:
        # Wine's table of connections names no process (pid 0): a server there cannot tell who connects and,
        # with no credential, refuses every local client (test_oslayer checks that). The row's servers, and
        # the children that inherit this, let local users in, so that everything else is tested on Windows.
        monkeypatch.setenv("HRPYC_ALLOW_OTHER_USERS", "1")
    # This process plays a plain Python, even after the panel's tests leave a QApplication behind;
    # child processes pick their own dispatch (child_env drops this).
    monkeypatch.setenv("HRPYC_DISPATCH", "thread")
    yield
    hrpyc.stop_server()


def wait_for(predicate, timeout=30.0, what="condition"):
    """Poll `predicate` until it is true or the deadline passes. Only a failing test meets the deadline, so it
    is generous: on a loaded machine, and more so under Wine, a Python (IPython most of all) takes seconds
    to start."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def listed_clients(observer):
    """The server's other clients, oldest first, as it lists them to the hrpyc connection `observer` (what
    `hrpyc sessions --clients` shows): a ClientInfo each."""
    return [from_pairs(pairs) for pairs in observer.root.hrpyc_clients()]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
