"""A stand-in for Houdini's start-up, for tests: packages, paths and hooks as SideFX documents them.

    python houdini_startup.py --app houdini|hython [--scene FILE] [--loads N] [--serve SECONDS]

1. Package files: every *.json in $HOUDINI_PACKAGE_DIR and $HOUDINI_USER_PREF_DIR/packages, alphabetically;
   $HOUDINI_PACKAGE_PATH is the folder of the file; `env` entries (a value, a list, or
   {"value", "method": prepend|append|replace}) with $VAR / ${VAR} expanded; `path`/`hpath` prepended
   to HOUDINI_PATH.
2. sys.path: Houdini's own folders first - each HOUDINI_PATH entry's pythonX.Ylibs for this Python
   only, then $HFS/houdini/pythonX.Ylibs, which holds SideFX's hrpyc.py - then PYTHONPATH (the worst
   case for a package that must win the name `hrpyc`).
3. Hooks: every pythonX.Ylibs/pythonrc.py; without a scene the first scripts/123.py (or .cmd), with one
   the first scripts/456.py (or .cmd); in the GUI, every pythonX.Ylibs/uiready.py; then 456 once per
   later scene load (--loads). "First" is along hou.houdiniPath(): package folders, then
   $HOUDINI_USER_PREF_DIR, $HSITE/houdiniX.Y, $HFS/houdini; in one folder .py wins over .cmd.
Prints `houdini: started` and a JSON report line `houdini: report {...}`.
"""

import argparse
import glob
import importlib.util
import json
import os
import re
import runpy
import subprocess
import sys
import time

import hou  # Houdini's own module is loaded before any hook runs (this stand-in's, from its folder)

STANDIN = os.path.dirname(os.path.abspath(__file__))
PYLIBS = "python{}.{}libs".format(*sys.version_info[:2])


def expand(text):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: os.environ.get(m.group(1) or m.group(2), m.group(0)), text)


def load_packages():
    folders = [os.environ.get("HOUDINI_PACKAGE_DIR", "")]
    folders.append(os.path.join(os.environ.get("HOUDINI_USER_PREF_DIR", ""), "packages"))
    for folder in [f for f in folders if f and os.path.isdir(f)]:
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            with open(path) as handle:
                package = json.load(handle)
            os.environ["HOUDINI_PACKAGE_PATH"] = os.path.dirname(os.path.abspath(path)).replace("\\", "/")
            for entry in package.get("env", []):
                for name, spec in entry.items():
                    method = "replace"
                    if isinstance(spec, dict):
                        spec, method = spec.get("value", ""), spec.get("method", "replace")
                    values = [expand(str(v)) for v in (spec if isinstance(spec, list) else [spec])]
                    old = [p for p in os.environ.get(name, "").split(os.pathsep) if p]
                    if method == "prepend":
                        values = values + old
                    elif method == "append":
                        values = old + values
                    os.environ[name] = os.pathsep.join(values)
            for key in ("path", "hpath"):
                extra = package.get(key, [])
                extra = [expand(str(v)) for v in (extra if isinstance(extra, list) else [extra])]
                old = [p for p in os.environ.get("HOUDINI_PATH", "").split(os.pathsep) if p]
                os.environ["HOUDINI_PATH"] = os.pathsep.join(extra + old)


def build_sys_path():
    ours = [os.path.join(e, PYLIBS) for e in hou.houdiniPath() if os.path.isdir(os.path.join(e, PYLIBS))]
    pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    rest = [p for p in sys.path if p not in pythonpath and p not in ours]
    sys.path[:] = ours + pythonpath + [STANDIN] + rest


def run_each(name):
    for entry in hou.houdiniPath():
        path = os.path.join(entry, PYLIBS, name)
        if os.path.isfile(path):
            runpy.run_path(path, run_name="__main__")


def run_first_script(name):
    for entry in hou.houdiniPath():
        path = os.path.join(entry, "scripts", name)
        if os.path.isfile(path + ".py"):
            runpy.run_path(path + ".py", run_name="__main__")
            return
        if os.path.isfile(path + ".cmd"):
            hou.hscript("source " + path + ".cmd")
            return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", choices=("houdini", "hython"), default="houdini")
    parser.add_argument("--scene")
    parser.add_argument("--loads", type=int, default=0)
    parser.add_argument("--serve", type=float, default=0.0, help="seconds to keep serving before exiting")
    parser.add_argument("--child", action="store_true", help="then start a hython child, as TOPs/PDG does")
    args = parser.parse_args()
    os.environ["HOU_STANDIN_APP"] = args.app
    os.environ["HOU_STANDIN_UI"] = "1" if args.app == "houdini" else ""
    if args.scene:
        os.environ["HOU_STANDIN_SCENE"] = args.scene
    load_packages()
    build_sys_path()

    # What the hooks cost Houdini's start-up is the work they do: CPU time, which a machine busy with
    # other processes does not stretch as it stretches wall time - or wall time where it is less, as on
    # Windows, which counts CPU time in ticks of 15.6 ms.
    started, cpu_started = time.perf_counter(), time.process_time()
    run_each("pythonrc.py")
    run_first_script("456" if args.scene else "123")
    if args.app == "houdini":
        run_each("uiready.py")
    hooks_seconds = min(time.perf_counter() - started, time.process_time() - cpu_started)
    for _ in range(args.loads):
        run_first_script("456")  # File > Open, File > New
    print("houdini: started", flush=True)
    report = {"hooks_ms": hooks_seconds * 1e3, "hrpyc_file": None, "server": None}
    module = sys.modules.get("hrpyc")
    report["hrpyc_file"] = module.__file__ if module else importlib.util.find_spec("hrpyc").origin
    server = module.running_server() if hasattr(module, "running_server") else None
    if server is not None:
        report["server"] = {
            "address": list(server.address),
            "dispatch": server.dispatch,
            "credential": server.credential,
        }
    if args.child:  # it inherits the environment, as TOPs/PDG hython workers and render fetches do
        child = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--app", "hython", "--scene", "job.hip"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        report["child_output"] = child.stdout
    print("houdini: report " + json.dumps(report), flush=True)
    if server is not None and args.serve:
        time.sleep(args.serve)  # a session that stays up while the test talks to it


if __name__ == "__main__":
    main()
