"""The Windows row's cross-OS pairs (.ci/windows.sh runs it with a Linux Python, Wine set up): a Windows
server (under Wine) answers every Linux client and every Windows client; a Linux server answers every
Windows client. Each pair drives `hou` as a user does and times the chain (.ci/cross_os_client.py).

    python .ci/cross_os.py --windows WIN_PYTHON_EXE... --linux LINUX_PYTHON...

Exits 1 if any pair fails."""

import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = [os.path.join(ROOT, "python3.7libs"), os.path.join(ROOT, "tests", "standin")]
CLIENT = os.path.join(ROOT, ".ci", "cross_os_client.py")


def winpath(path):
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def command(python):
    """(argv prefix, environment) of a Python: a .exe runs under Wine, with Windows paths."""
    env = dict(os.environ)
    for name in [n for n in env if n.startswith("HRPYC_")]:
        del env[name]
    if python.endswith(".exe"):
        env["PYTHONPATH"] = ";".join(winpath(p) for p in PATHS)
        return ["wine", python], env
    env["PYTHONPATH"] = os.pathsep.join(PATHS)
    return [python], env


def name(python):
    return ("windows " if python.endswith(".exe") else "linux ") + os.path.relpath(python, ROOT)


def serve(python):
    """A `hrpyc serve` (stand-in hou) on a free port: (process, port)."""
    argv, env = command(python)
    if python.endswith(".exe"):  # Wine cannot tell who holds a socket (pid 0), let alone a Linux process
        env["HRPYC_ALLOW_OTHER_USERS"] = "1"
    # Output through pipes: Wine cannot hand a Windows program a console stream that is a plain file.
    proc = subprocess.Popen(
        [*argv, "-m", "hrpyc", "serve", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"serving on \S+:(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit("cross-os: {} did not serve: {!r}".format(name(python), line + proc.stdout.read()))
    return proc, int(match.group(1))


def drive(client, port):
    argv, env = command(client)
    result = subprocess.run(
        [*argv, winpath(CLIENT) if client.endswith(".exe") else CLIENT, "127.0.0.1", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        timeout=120,
    )
    last = result.stdout.strip().splitlines()[-1:] or ["(no output)"]
    if result.returncode == -9 and client.endswith(".exe") and ": ok; " in last[0]:
        # It printed its line; then Wine's server SIGKILLed it as it exited (see .ci/windows.sh's `verdicts`).
        return True, [last[0] + " (then SIGKILLed by Wine's server as it exited)"]
    return result.returncode == 0, last


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", nargs="+", required=True, help="Windows python.exe files (run under Wine)")
    parser.add_argument("--linux", nargs="+", required=True, help="Linux Python interpreters")
    args = parser.parse_args()
    failed = 0
    pairs = [(args.windows[0], args.linux + args.windows)] + [(linux, args.windows) for linux in args.linux[:1]]
    for server_python, clients in pairs:
        proc, port = serve(server_python)
        try:
            print("--- {} serving on 127.0.0.1:{}".format(name(server_python), port), flush=True)
            for client in clients:
                ok, last = drive(client, port)
                failed += not ok
                print("  {} {}: {}".format("ok  " if ok else "FAIL", name(client), last[0]), flush=True)
        finally:
            proc.kill()
            proc.wait()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
