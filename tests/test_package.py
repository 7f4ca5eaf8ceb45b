"""hrpyc as a Houdini package: the package file, the installer, autostart through Houdini's hooks."""

import glob
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import zipfile

import pytest
from conftest import STANDIN, UNDER_WINE, free_port, hrpyc_cli

from hrpyc import __version__ as hrpyc_version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALLER = os.path.join(ROOT, "houdini_package", "hrpyc_install.py")


@pytest.fixture
def hfs(tmp_path):
    """A Houdini install as far as hrpyc cares: SideFX's own hrpyc.py in houdini/pythonX.Ylibs."""
    libs = tmp_path / "hfs" / "houdini" / "python{}.{}libs".format(*sys.version_info[:2])
    libs.mkdir(parents=True)
    (libs / "hrpyc.py").write_text("SIDEFX = True\n")
    return str(tmp_path / "hfs")


def houdini(hfs, *args, **env):
    """Start the stand-in Houdini with the checkout read in place (HOUDINI_PACKAGE_DIR); returns
    (report, the `hrpyc:` lines it printed, everything it printed)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HRPYC_", "HOUDINI_", "PYTHON"))}
    environment.update(HFS=hfs, HRPYC_STATE_DIR=os.environ["HRPYC_STATE_DIR"], HOUDINI_PACKAGE_DIR=ROOT)
    if "HRPYC_ALLOW_OTHER_USERS" in os.environ:  # the Wine row's (conftest): Wine cannot tell who connects
        environment["HRPYC_ALLOW_OTHER_USERS"] = os.environ["HRPYC_ALLOW_OTHER_USERS"]
    environment.update(env)
    result = subprocess.run(
        [sys.executable, os.path.join(STANDIN, "houdini_startup.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 0 and "houdini: started" in result.stdout, result.stdout
    report = json.loads(result.stdout.split("houdini: report ", 1)[1].splitlines()[0])
    lines = [line for line in result.stdout.splitlines() if line.startswith("hrpyc:")]
    return report, lines, result.stdout


@pytest.mark.parametrize("app", ["houdini", "hython"])
def test_the_package_read_in_place_makes_import_hrpyc_find_ours_not_sidefxs(hfs, app):
    report, lines, _ = houdini(hfs, "--app", app)
    assert report["hrpyc_file"] == os.path.join(ROOT, "python3.7libs", "hrpyc", "__init__.py")
    assert report["server"] is None and lines == []  # autostart is off


@pytest.mark.parametrize(
    "app, scene, dispatch",
    [
        ("houdini", None, "main"),
        ("houdini", "shot.hip", "main"),
        ("hython", None, "thread"),
        ("hython", "shot.hip", "thread"),
    ],
)
def test_autostart_starts_one_server_however_many_hooks_fire(hfs, app, scene, dispatch):
    port = free_port()
    args = ["--app", app, "--loads", "5"] + (["--scene", scene] if scene else [])
    report, lines, _ = houdini(hfs, *args, HRPYC_AUTOSTART="1", HRPYC_PORT=str(port), HRPYC_TIMEOUT="45")
    assert report["server"] == {"address": ["127.0.0.1", port], "dispatch": dispatch, "credential": "none"}
    assert lines == ["hrpyc: listening on 127.0.0.1:{} (dispatch {}, credential none)".format(port, dispatch)]


def test_autostart_settings_come_from_the_environment(hfs):
    port = free_port()
    report, _, _ = houdini(
        hfs,
        "--app",
        "hython",
        HRPYC_AUTOSTART="yes",
        HRPYC_HOST="localhost",
        HRPYC_PORT=str(port),
        HRPYC_DISPATCH="thread",
        HRPYC_TOKEN="auto",
    )
    assert report["server"] == {"address": ["127.0.0.1", port], "dispatch": "thread", "credential": "token"}


def test_a_port_range_takes_the_first_free_port(hfs):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        first = taken.getsockname()[1]
        report, _, _ = houdini(
            hfs, "--app", "hython", HRPYC_AUTOSTART="1", HRPYC_PORT="{}-{}".format(first, first + 20)
        )
    assert first < report["server"]["address"][1] <= first + 20


@pytest.mark.parametrize(
    "env, says",
    [
        ({"HRPYC_PORT": "abc"}, "HRPYC_PORT='abc' is not valid"),
        ({"HRPYC_AUTOSTART": "maybe"}, "HRPYC_AUTOSTART='maybe' is not valid"),
        ({"HRPYC_AUTOSTART": "シ", "PYTHONIOENCODING": "cp1252"}, "HRPYC_AUTOSTART='\\u30b7' is not valid"),
        ({"HRPYC_DISPATCH": "gpu"}, "HRPYC_DISPATCH='gpu' is not valid"),
        ({"HRPYC_HOST": "0.0.0.0"}, "refusing to listen on 0.0.0.0"),
        (
            {"HRPYC_HOST": "0.0.0.0"},
            "set HRPYC_TOKEN=auto (or HRPYC_TOKEN / TLS client certificates), or HRPYC_ALLOW_INSECURE=1",
        ),
    ],
)
def test_a_bad_value_gives_one_line_and_houdini_goes_on(hfs, env, says):
    environment = dict({"HRPYC_AUTOSTART": "1", "HRPYC_PORT": str(free_port())}, **env)
    report, lines, _ = houdini(hfs, "--app", "houdini", "--loads", "3", **environment)
    assert report["server"] is None
    assert len(lines) == 1 and lines[0].startswith("hrpyc: not started: ") and says in lines[0]


def test_a_taken_port_says_what_to_set_in_the_environment(hfs):
    """Autostart's words are the environment's: HRPYC_PORT, not port=."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        report, lines, _ = houdini(hfs, "--app", "hython", HRPYC_AUTOSTART="1", HRPYC_PORT=str(port))
    assert report["server"] is None
    assert lines == [
        "hrpyc: not started: 127.0.0.1:{} is already in use by another program; stop it, or use HRPYC_PORT=0 or "
        "HRPYC_PORT=18811-18820 to take a free port".format(port)
    ]


@pytest.mark.parametrize("off", ["0", "false", "no", "off", " OFF "])
def test_autostart_switched_off_starts_nothing_and_says_nothing_in_any_hook(hfs, off):
    port = free_port()
    report, lines, _ = houdini(hfs, "--app", "houdini", "--loads", "2", HRPYC_AUTOSTART=off, HRPYC_PORT=str(port))
    assert report["server"] is None and lines == []


def _startup_scripts(tmp_path):
    """A user's and a studio's 123.py and 456.py, each printing its name when Houdini runs it."""
    prefs, site = tmp_path / "prefs", tmp_path / "site"
    for folder, who in ((prefs, "user"), (site / "houdini19.0", "site")):
        (folder / "scripts").mkdir(parents=True)
        for script in ("123", "456"):
            (folder / "scripts" / (script + ".py")).write_text("print('ran {} {}')\n".format(who, script))
    return {"HOUDINI_USER_PREF_DIR": str(prefs), "HSITE": str(site), "HOU_STANDIN_VERSION": "19.0.720"}


def _ran(out):
    return sorted(line for line in out.splitlines() if line.startswith("ran "))


@pytest.mark.parametrize("app", ["houdini", "hython"])
@pytest.mark.parametrize("scene", [None, "shot.hip"])
def test_the_users_and_the_studios_startup_scripts_run_as_often_as_without_hrpyc(hfs, tmp_path, app, scene):
    env = dict(_startup_scripts(tmp_path), HRPYC_AUTOSTART="1", HRPYC_PORT="0")
    args = ["--app", app, "--loads", "2"] + (["--scene", scene] if scene else [])
    with_hrpyc, _, out = houdini(hfs, *args, **env)
    without, _, plain = houdini(hfs, *args, HOUDINI_PACKAGE_DIR=str(tmp_path / "no-packages"), **env)
    assert without["server"] is None and with_hrpyc["server"] is not None
    assert _ran(out) == _ran(plain) and _ran(plain)  # the user's, first on the path: Houdini's rule
    assert "ran site" not in plain


def test_two_hrpyc_copies_on_the_path_still_hand_on_to_the_users_456_once(hfs, tmp_path):
    """A studio's hrpyc and a developer's checkout, both packages: the first one's 456.py runs, and the
    user's runs once per scene load, as without either."""
    copy = tmp_path / "studio-hrpyc"
    shutil.copytree(os.path.join(ROOT, "scripts"), str(copy / "scripts"))
    shutil.copytree(os.path.join(ROOT, "python3.7libs"), str(copy / "python3.7libs"))
    env = _startup_scripts(tmp_path)
    packages = tmp_path / "prefs" / "packages"
    packages.mkdir(parents=True)
    (packages / "studio.json").write_text('{"hpath": "%s"}' % copy.as_posix())
    _, _, out = houdini(hfs, "--app", "houdini", "--scene", "a.hip", "--loads", "2", **env)
    assert _ran(out) == ["ran user 456"] * 3 and "Traceback" not in out


def test_a_studio_456_cmd_after_ours_is_sourced_as_houdini_would(hfs, tmp_path):
    site = tmp_path / "site" / "houdini19.0" / "scripts"
    site.mkdir(parents=True)
    (site / "456.cmd").write_text("echo studio\n")
    _, _, out = houdini(hfs, "--app", "hython", "--scene", "a.hip", HSITE=str(tmp_path / "site"))
    assert out.count("houdini: hscript source " + (site / "456.cmd").as_posix()) == 1  # Houdini's spelling


@pytest.mark.parametrize(
    "app, scene", [("houdini", None), ("houdini", "shot.hip"), ("hython", None), ("hython", "a.hip")]
)
def test_autostart_works_when_another_package_ships_its_own_456_ahead_of_ours(hfs, tmp_path, app, scene):
    other = tmp_path / "other"
    (other / "scripts").mkdir(parents=True)
    (other / "scripts" / "456.py").write_text("print('ran other 456')\n")
    packages = tmp_path / "prefs" / "packages"  # read after HOUDINI_PACKAGE_DIR's: its folder comes first
    packages.mkdir(parents=True)
    (packages / "other.json").write_text('{"hpath": "%s"}' % other.as_posix())
    args = ["--app", app, "--loads", "2"] + (["--scene", scene] if scene else [])
    report, _, out = houdini(
        hfs, *args, HOUDINI_USER_PREF_DIR=str(tmp_path / "prefs"), HRPYC_AUTOSTART="1", HRPYC_PORT="0"
    )
    assert report["server"] is not None
    assert out.count("ran other 456") == 2 + (1 if scene else 0)


def test_a_taken_port_gives_one_line_and_houdini_goes_on(hfs):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        report, lines, _ = houdini(hfs, "--app", "hython", "--loads", "3", HRPYC_AUTOSTART="1", HRPYC_PORT=str(port))
    assert report["server"] is None
    assert len(lines) == 1 and "127.0.0.1:{} is already in use".format(port) in lines[0]


def test_a_missing_rpyc_gives_one_line_and_houdini_goes_on(hfs, tmp_path):
    broken = tmp_path / "broken"
    (broken / "rpyc").mkdir(parents=True)
    (broken / "rpyc" / "__init__.py").write_text("raise ImportError('No module named rpyc')\n")
    report_env = {"HRPYC_AUTOSTART": "1", "PYTHONPATH": str(broken)}
    _, lines, out = houdini(hfs, "--app", "hython", "--loads", "2", **report_env)
    assert len(lines) == 1 and "cannot load hrpyc" in lines[0] and "rpyc" in lines[0], out


def test_child_processes_leave_a_single_port_to_their_parent(hfs):
    port = free_port()
    report, _, _ = houdini(hfs, "--app", "houdini", "--child", HRPYC_AUTOSTART="1", HRPYC_PORT=str(port))
    assert report["server"]["address"] == ["127.0.0.1", port]
    child = [line for line in report["child_output"].splitlines() if line.startswith("hrpyc:")]
    assert child == []  # no fight, no error spam
    assert '"server": null' in report["child_output"]


def test_child_processes_with_a_port_range_become_sessions_of_their_own(hfs):
    port = free_port()
    report, _, _ = houdini(
        hfs, "--app", "houdini", "--child", HRPYC_AUTOSTART="1", HRPYC_PORT="{}-{}".format(port, port + 30)
    )
    child = json.loads(report["child_output"].split("houdini: report ", 1)[1].splitlines()[0])
    assert child["server"]["address"][1] not in (None, report["server"]["address"][1])


@pytest.mark.skipif(UNDER_WINE, reason="Wine's file calls take milliseconds each (os.stat 1.6-8 ms; Linux 9 us)")
def test_hooks_cost_under_20_ms_with_autostart_off(hfs):
    costs = sorted(houdini(hfs, "--app", "hython", "--scene", "a.hip")[0]["hooks_ms"] for _ in range(3))
    assert costs[1] < 20, costs


def autostarted_from_installed_package(hfs, prefs):
    """Start the stand-in hython with only the package file the installer wrote in `prefs`: autostart must
    listen; returns the file `import hrpyc` found."""
    port = free_port()
    report, _, _ = houdini(
        hfs,
        "--app",
        "hython",
        HOUDINI_PACKAGE_DIR="",
        HOUDINI_USER_PREF_DIR=str(prefs),
        HRPYC_AUTOSTART="1",
        HRPYC_PORT=str(port),
    )
    assert report["server"]["address"] == ["127.0.0.1", port]
    return report["hrpyc_file"]


def test_the_installer_writes_a_package_houdini_reads_and_is_idempotent(hfs, tmp_path):
    prefs = tmp_path / "home" / "houdini20.5"
    prefs.mkdir(parents=True)
    env = dict(os.environ, HOME=str(tmp_path / "home"), USERPROFILE=str(tmp_path / "home"))
    env.pop("HOUDINI_USER_PREF_DIR", None)

    def installer(*args):
        return subprocess.run([sys.executable, INSTALLER, *args], capture_output=True, text=True, env=env)

    dry = installer("--dry-run")
    assert dry.returncode == 0 and "would write" in dry.stdout and not (prefs / "packages").exists()
    first = installer()
    target = prefs / "packages" / "hrpyc.json"
    assert first.returncode == 0 and str(target) in first.stdout and target.is_file()
    assert json.loads(target.read_text())["env"][0]["HRPYC_ROOT"] == ROOT.replace("\\", "/")
    written, stamp = target.read_text(), target.stat().st_mtime_ns
    again = installer()
    assert "already installed" in again.stdout
    assert target.read_text() == written and target.stat().st_mtime_ns == stamp  # not rewritten
    assert autostarted_from_installed_package(hfs, prefs).startswith(os.path.join(ROOT, "python3.7libs"))
    checked = installer("--check", str(target))
    assert checked.returncode == 0 and "package OK" in checked.stdout
    assert "PYTHONPATH += {}/python3.7libs".format(ROOT.replace("\\", "/")) in checked.stdout
    gone = installer("--uninstall")
    assert "removed" in gone.stdout and not target.exists()


@pytest.mark.parametrize(
    "given, folder",
    [("22", "houdini22.0"), ("21", "houdini21.0"), ("20.5", "houdini20.5"), ("21.0.440", "houdini21.0")],
)
def test_the_installer_writes_the_preference_folder_houdini_reads(tmp_path, given, folder):
    """The version as a user has it at hand: X, X.Y, or X.Y.Z as Houdini's About box writes it. With HOME
    set, Houdini looks under it on every OS (Windows too: %HOME%\\houdiniX.Y), and the installer says where
    it looked and why."""
    env = dict(os.environ, HOME=str(tmp_path), USERPROFILE=str(tmp_path))
    env.pop("HOUDINI_USER_PREF_DIR", None)
    run = subprocess.run(
        [sys.executable, INSTALLER, "--houdini-version", given], capture_output=True, text=True, env=env
    )
    mac = "Library/Preferences/houdini/" + folder[len("houdini") :] if sys.platform == "darwin" else folder
    assert run.returncode == 0 and (tmp_path / mac / "packages" / "hrpyc.json").is_file(), run.stderr
    said = run.stdout.splitlines()[0]
    assert said.startswith("hrpyc: Houdini's preference folder: {}".format(tmp_path)) and "X.Y" in said, said
    bad = subprocess.run([sys.executable, INSTALLER, "--houdini-version", "22.x"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--houdini-version '22.x'" in bad.stderr


def test_the_hooks_know_their_own_folder_however_houdini_spells_it(monkeypatch, tmp_path):
    """Houdini writes its folders its own way (`C:/Users/...`, another case, through a link): a hook that
    finds our hrpyc already imported from such a spelling of its folder leaves sys.path and the module as
    they are, rather than claim the name again at every start."""
    import hrpyc_hooks

    if os.name == "posix":
        spelled = str(tmp_path / "linked")
        os.symlink(hrpyc_hooks.HERE, spelled)
    else:
        spelled = hrpyc_hooks.HERE.upper().replace("\\", "/")
    ours = type(sys)("hrpyc")
    ours.__file__ = os.path.join(spelled, "hrpyc", "__init__.py")
    monkeypatch.setitem(sys.modules, "hrpyc", ours)
    path = [spelled] + [entry for entry in sys.path if entry != hrpyc_hooks.HERE]
    monkeypatch.setattr(sys, "path", list(path))
    hrpyc_hooks.claim_name()
    assert sys.path == path and sys.modules["hrpyc"] is ours
    monkeypatch.setitem(sys.modules, "hrpyc", type(sys)("hrpyc"))  # SideFX's: claimed, every spelling of ours once
    sys.modules["hrpyc"].__file__ = os.path.join("hfs", "houdini", "python3.11libs", "hrpyc.py")
    hrpyc_hooks.claim_name()
    assert sys.path[0] == hrpyc_hooks.HERE and spelled not in sys.path and "hrpyc" not in sys.modules


def test_the_package_has_hooks_for_every_python_a_supported_houdini_runs():
    """18.5/19.0: 3.7, 19.5: 3.9, 20.0 (and 21.0's alternate build): 3.10, 20.5/21.0 (and 22.0's): 3.11,
    22.0: 3.13 - Houdini runs start-up scripts only from the pythonX.Ylibs of its own Python."""
    for version in ("3.7", "3.9", "3.10", "3.11", "3.13"):
        for hook in ("pythonrc.py", "uiready.py"):
            assert os.path.isfile(os.path.join(ROOT, "python{}libs".format(version), hook)), (version, hook)
    package = json.load(open(os.path.join(ROOT, "hrpyc.json")))
    assert "enable" not in package  # no Houdini or Python version is left out


def test_the_check_reports_a_broken_package(tmp_path):
    broken = tmp_path / "hrpyc.json"
    broken.write_text('{"env": [{"HRPYC_ROOT": "/nowhere"}], "hpath": "$HRPYC_ROOT"}')
    result = subprocess.run([sys.executable, INSTALLER, "--check", str(broken)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "import hrpyc` would fail" in result.stdout and "/nowhere does not exist" in result.stdout
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    assert subprocess.run([sys.executable, INSTALLER, "--check", str(bad_json)]).returncode == 1


def test_hrpyc_install_runs_the_installer(tmp_path):
    result = hrpyc_cli(
        "install", "--dry-run", "--houdini-version", "21.0", HOME=str(tmp_path), USERPROFILE=str(tmp_path)
    )
    assert result.returncode == 0 and "would write" in result.stdout and "21.0" in result.stdout


def _clean_environment(home):
    """This environment for a pip or a Python of its own: no HRPYC_*, HOUDINI_* or PYTHON* from ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HRPYC_", "HOUDINI_", "PYTHON"))}
    env.update(HOME=str(home), USERPROFILE=str(home), HRPYC_STATE_DIR=os.environ["HRPYC_STATE_DIR"])
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """hrpyc's wheel, built once from a copy of the checkout (a build writes build/ and egg-info where it runs)."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "checkout"
    shutil.copytree(ROOT, str(source), ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "tests", "bench"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder / "dist"), str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        env=_clean_environment(folder),
    )
    assert built.returncode == 0, built.stdout
    (path,) = (folder / "dist").glob("hrpyc-*.whl")
    return path


# rpyc 6 needs Python 3.8; Python 3.7 (Houdini 19.0's) takes 4.1 and 5.x.
RPYC_ALREADY_THERE = ("4.1.0", "5.3.1") + (("6.0.2",) if sys.version_info >= (3, 8) else ())
WHEELS = os.path.join(ROOT, ".venvs", "wheels", "py{}.{}".format(*sys.version_info[:2]))  # downloaded once


NEEDS_VENV = pytest.mark.skipif(
    importlib.util.find_spec("venv") is None,
    reason="this Python has no venv module (python.org's embeddable Windows build, the Wine row's)",
)


@NEEDS_VENV
@pytest.mark.parametrize("version", RPYC_ALREADY_THERE)
def test_installing_the_client_keeps_the_rpyc_a_python_has(wheel, version, tmp_path):
    """A Maya or Nuke Python with rpyc 4.1 to 6 keeps it: hrpyc's client works with each."""
    if not glob.glob(os.path.join(WHEELS, "rpyc-{}-*.whl".format(version))):
        pip = [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "-d", WHEELS]
        subprocess.run(pip + ["rpyc=={}".format(version)], check=True, timeout=300)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / ("Scripts" if sys.platform == "win32" else "bin") / "python")
    env = _clean_environment(tmp_path)

    def pip_install(*what):
        command = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check", "install"]
        command += ["--no-compile", "--no-index", "--find-links", WHEELS]
        done = subprocess.run(
            command + list(what), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        assert done.returncode == 0, done.stdout
        return done.stdout

    pip_install("rpyc=={}".format(version))
    said = pip_install(str(wheel))
    assert "Uninstalling rpyc" not in said, said
    code = "import hrpyc\nfrom hrpyc._wire.rpyc_versions import RPYC_VERSION_STRING\nprint(RPYC_VERSION_STRING)"
    kept = subprocess.run([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert kept.stdout.strip() == version, kept.stdout


@NEEDS_VENV
def test_hrpyc_install_works_from_a_wheel_installed_in_a_fresh_virtualenv(hfs, tmp_path, wheel):
    """The installer and the files Houdini reads ship in the wheel: `hrpyc install` from a pip install writes a
    package Houdini loads, with a copy of hrpyc beside it (not that virtualenv's site-packages)."""
    home = tmp_path / "home"
    env = _clean_environment(home)
    quiet = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "timeout": 120, "env": env}
    with zipfile.ZipFile(str(wheel)) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "hrpyc/py.typed" in names and [n for n in names if n.endswith("/LICENSE")]  # dist-info[/licenses]
    assert "License: MIT" in metadata
    assert "Project-URL: SideFX hrpyc docs, https://www.sidefx.com/docs/houdini/hom/rpc.html" in metadata
    assert "hrpyc.run(connection" in metadata and "](docs/" not in metadata  # the README, pictures as words
    for minor in range(7, 14):
        assert "Programming Language :: Python :: 3.{}".format(minor) in metadata
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, env=env)
    bin_dir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    pip = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], **quiet)
    assert pip.returncode == 0, pip.stdout

    def hrpyc(*args):
        return subprocess.run([str(bin_dir / "hrpyc"), *args], cwd=str(tmp_path), **quiet)

    assert hrpyc("--version").stdout.startswith("hrpyc {} (Python ".format(hrpyc_version))
    prefs = home / "houdini21.0"
    dry = hrpyc("install", "--dry-run", "--houdini-version", "21")
    assert dry.returncode == 0 and "would write {}".format(prefs / "packages" / "hrpyc.json") in dry.stdout, dry.stdout
    assert not prefs.exists()
    assert hrpyc("install", "--houdini-version", "21").returncode == 0
    checked = hrpyc("install", "--check", str(prefs / "packages" / "hrpyc.json"))
    assert checked.returncode == 0 and "package OK" in checked.stdout, checked.stdout
    assert "already installed" in hrpyc("install", "--houdini-version", "21").stdout
    copy = prefs / "packages" / "hrpyc"
    assert autostarted_from_installed_package(hfs, prefs) == str(copy / "python3.7libs" / "hrpyc" / "__init__.py")
    gone = hrpyc("install", "--uninstall", "--houdini-version", "21")
    assert gone.returncode == 0 and not copy.exists() and not (prefs / "packages" / "hrpyc.json").exists()
    # A folder of the user's own where the copy would go (a checkout, say) is never replaced or removed.
    (copy / "python3.7libs").mkdir(parents=True)
    (copy / "python3.7libs" / "hrpyc_hooks.py").write_text("# the user's own checkout\n")
    (copy / "my_work.txt").write_text("unsaved work\n")
    kept = hrpyc("install", "--houdini-version", "21")
    assert "left alone" in kept.stdout and (copy / "my_work.txt").exists(), kept.stdout
    kept = hrpyc("install", "--uninstall", "--houdini-version", "21")
    assert "left alone" in kept.stdout and (copy / "my_work.txt").exists(), kept.stdout
