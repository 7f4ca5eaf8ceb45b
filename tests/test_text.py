"""Text on every OS: hrpyc's files are UTF-8 whatever the locale says (Windows' is cp1252), a Notepad
BOM included; scripts keep LF in a Windows checkout; the shell names the key that leaves it; the panel's
Test never starts the Microsoft Store's stub."""

import fnmatch
import json
import os
import subprocess
import sys

import pytest
from conftest import child_env

from hrpyc._oslayer import console, interpreter, system

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOM = b"\xef\xbb\xbf"

# Run in a Python whose locale encoding is not UTF-8: every file is written as Notepad writes it
# (UTF-8, a BOM, CRLF), with a non-ASCII path inside, and read back through the reader hrpyc uses.
READERS = r"""
import json, locale, os, socket, sys
from hrpyc._auth import tokens
from hrpyc._common import config, sessions, userdir
from hrpyc._cli import install
from hrpyc._oslayer import private, process
from hrpyc._panel import model

BOM, HIP = b"\xef\xbb\xbf", "C:/shots/Zo\u00eb/\u30b7\u30fc\u30f3.hip"
folder = userdir.private_folder(os.environ["HRPYC_STATE_DIR"])

def notepad(path, text):
    fd = private.create_file(path)  # as hrpyc makes its own files: only this user's
    os.write(fd, BOM + text.replace("\n", "\r\n").encode("utf-8"))
    os.close(fd)
    return path

answers = {"locale": locale.getpreferredencoding(False)}

def answer(name, read):
    try:
        answers[name] = read()
    except Exception as exc:  # each reader's own failure, in the test's report
        answers[name] = "{}: {}".format(type(exc).__name__, exc)

package = notepad(os.path.join(folder, "hrpyc.json"), json.dumps({"env": [{"SCENE": HIP}]}, ensure_ascii=False))
answer("package", lambda: install.check(package)[1][:2])
answer("package as installed", lambda: json.loads(install._read(package))["env"][0]["SCENE"])
os.environ["HRPYC_TOKEN_FILE"] = notepad(os.path.join(folder, "given-token"), "s3cret\n")
answer("token file", config.token_setting)
notepad(tokens.auto_token_path(), "auto-s3cret")
answer("auto token", lambda: tokens.auto_token(create=False))
record = {"pid": os.getpid(), "port": 4321, "machine": socket.gethostname(), "hip": HIP,
          "process_started": process.started(os.getpid())}
notepad(os.path.join(sessions.folder(), "{}-4321.json".format(os.getpid())), json.dumps(record, ensure_ascii=False))
answer("session", lambda: [r["hip"] for r in sessions.live()])
settings = notepad(os.path.join(folder, "panel-x.json"), json.dumps({"host": "zo\u00eb.local", "port": 4322}))
answer("panel", lambda: [model.Settings(path=settings).host, model.Settings(path=settings).port])
def written():
    userdir.write_private(os.path.join(folder, "written"), HIP)
    with open(os.path.join(folder, "written"), "rb") as handle:
        return handle.read().decode("utf-8")

answer("written", written)
print(json.dumps(answers))
"""


def test_every_file_hrpyc_reads_or_writes_is_utf8_whatever_the_locale(tmp_path):
    """A package file, a token file, the auto token, a session record and the panel's settings, each
    saved by Notepad (BOM, CRLF) with a non-ASCII path inside, read back under a locale that is not
    UTF-8 (ASCII here; cp1252 on Windows): each reader reads it, and hrpyc writes UTF-8."""
    not_utf8 = dict(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", PYTHONIOENCODING="utf-8")
    env = child_env(HRPYC_STATE_DIR=str(tmp_path / "state"), **not_utf8)
    for name in ("HRPYC_TOKEN", "HRPYC_TOKEN_FILE", "HRPYC_AUTOSTART"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-c", READERS], capture_output=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    answers = json.loads(result.stdout.decode("utf-8"))
    hip = "C:/shots/Zoë/シーン.hip"
    assert answers.pop("locale").lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig")
    assert answers == {
        "package": [
            "hrpyc: {} is valid JSON; for Houdini it sets:".format(tmp_path / "state" / "hrpyc.json"),
            "  SCENE = " + hip,
        ],
        "package as installed": hip,
        "token file": "s3cret",
        "auto token": "auto-s3cret",
        "session": [hip],
        "panel": ["zoë.local", 4322],
        "written": hip,
    }


def _attributes(path):
    """The attributes .gitattributes gives `path` (a later line overrides an earlier one, as in Git)."""
    found = {}
    with open(os.path.join(ROOT, ".gitattributes"), encoding="utf-8") as handle:
        for line in handle:
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            pattern, attributes = fields[0], fields[1:]
            if fnmatch.fnmatch(path if "/" in pattern else os.path.basename(path), pattern.lstrip("/")):
                for attribute in attributes:
                    name, _, value = attribute.partition("=")
                    found[name.lstrip("-")] = value or (attribute[0] != "-")
                    if name == "binary":
                        found.update(text=False, diff=False)
    return found


@pytest.mark.parametrize("path", [".ci/run", "python3.7libs/hrpyc/_cli/main.py", "scripts/456.py", "hrpyc.json"])
def test_scripts_keep_lf_line_ends_in_a_windows_checkout(path):
    """Git for Windows' autocrlf would check .ci/run out with CRLF line ends, which bash cannot run."""
    assert _attributes(path).get("eol") == "lf" and _attributes(path).get("text") in ("auto", True)


def test_images_are_never_converted():
    assert _attributes("docs/panel.png").get("text") is False


@pytest.mark.parametrize(
    "name, line_editor, key",
    [
        ("windows", False, "Ctrl-Z then Enter"),
        ("windows", True, "Ctrl-D"),  # IPython's prompt
        ("linux", False, "Ctrl-D"),
        ("macos", False, "Ctrl-D"),
    ],
)
def test_the_shell_names_the_key_that_ends_input_on_each_os(monkeypatch, name, line_editor, key):
    monkeypatch.setattr(system, "NAME", name)
    assert console.end_of_input(line_editor) == key


STORE = "C:\\Users\\zoe\\AppData\\Local\\Microsoft\\WindowsApps"
HFS = "C:\\Program Files\\Side Effects Software\\Houdini 21.0.440"


@pytest.mark.parametrize(
    "name, executable, prefix, path, files, chosen",
    [
        # Houdini on Windows: the Python it ships, else one on PATH - never the Store's alias
        ("windows", HFS + "\\bin\\houdinifx.exe", HFS + "\\python311", STORE + ";C:\\Python311",
         {HFS + "\\python311\\python.exe", STORE + "\\python.exe", "C:\\Python311\\python.exe"},
         HFS + "\\python311\\python.exe"),
        ("windows", HFS + "\\bin\\hython.exe", HFS + "\\python311", STORE.lower() + ";C:\\Python311",
         {STORE + "\\python.exe", STORE + "\\python3.exe", "C:\\Python311\\python.exe"}, "C:\\Python311\\python.exe"),
        ("windows", HFS + "\\bin\\hython.exe", HFS + "\\python311", STORE, {STORE + "\\python3.exe"},
         HFS + "\\bin\\hython.exe"),
        ("windows", "C:\\Python311\\python.exe", "C:\\Python311", STORE, {STORE + "\\python.exe"},
         "C:\\Python311\\python.exe"),
        # Houdini on Linux and macOS: bin/pythonX.Y in its prefix
        ("linux", "/opt/hfs21.0/bin/hython", "/opt/hfs21.0/python", "/usr/bin",
         {"/opt/hfs21.0/python/bin/python3.11", "/usr/bin/python3"}, "/opt/hfs21.0/python/bin/python3.11"),
        ("macos", "/Applications/Houdini/bin/houdini", "/Applications/Houdini/Python.framework", "/usr/bin",
         {"/usr/bin/python3"}, "/usr/bin/python3"),
    ],
)  # fmt: skip
def test_the_panels_test_never_runs_the_microsoft_stores_python_stub(
    monkeypatch, name, executable, prefix, path, files, chosen
):
    monkeypatch.setattr(system, "NAME", name)
    assert interpreter.for_child(executable, prefix, "3.11", {"PATH": path}, files.__contains__) == chosen


def test_the_panels_test_runs_this_python_here():
    assert interpreter.for_child(sys.executable, sys.prefix, "3.x", os.environ) == sys.executable
