"""What every Houdini start-up hook of the hrpyc package runs (pythonrc.py, uiready.py, 456.py).

Kept apart from the hrpyc package and cheap: with autostart off a hook costs reading HRPYC_AUTOSTART
through hrpyc.config, not the ~100 ms of importing rpyc; and whatever goes wrong, a hook prints one
line and Houdini's start-up goes on.
"""

import importlib.util
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)  # the package's folder on HOUDINI_PATH


def claim_name():
    """SideFX ships its own hrpyc.py in $HFS/houdini/python3.Xlibs; make `import hrpyc` find ours,
    wherever Houdini put its folders in sys.path."""
    module = sys.modules.get("hrpyc")
    if module is not None:
        found = getattr(module, "__file__", None) or ""
    else:
        spec = importlib.util.find_spec("hrpyc")
        found = (spec.origin or "") if spec is not None else ""
    if found.startswith(HERE):
        return
    while HERE in sys.path:
        sys.path.remove(HERE)
    sys.path.insert(0, HERE)
    sys.modules.pop("hrpyc", None)


def _config():
    """hrpyc.config on its own: it imports nothing of hrpyc's, and the package would import rpyc first.
    A private copy (config keeps no state); the package loads its own when it is used."""
    spec = importlib.util.spec_from_file_location("hrpyc.config", os.path.join(HERE, "hrpyc", "config.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_broken = False  # hrpyc could not be loaded; said so once


def run(hook):
    """Start hrpyc if HRPYC_AUTOSTART asks for it; never raise."""
    global _broken
    if _broken:
        return
    try:
        claim_name()
        wanted = _config().autostart()
        if wanted:
            from hrpyc.autostart import from_hook
    except ValueError as exc:  # hrpyc.ConfigError: HRPYC_AUTOSTART has a value config cannot read
        _broken = True
        print("hrpyc: not started: {}".format(exc))
        return
    except Exception as exc:  # a missing rpyc, a broken install: say so, and let Houdini go on
        _broken = True
        print(
            "hrpyc: cannot load hrpyc ({}: {}); check that rpyc is installed in this Houdini's Python "
            "and that the hrpyc package is loaded".format(type(exc).__name__, exc)
        )
        return
    if wanted:
        from_hook(hook)


def hand_on(script):
    """Run the `scripts/<script>.py` (or `.cmd`) Houdini would have run without ours: it runs only the
    first one on HOUDINI_PATH, and a package's folders come before the user's and the studio's, so
    ours must hand on to the next one for them to run at all."""
    import hou

    ours = os.path.realpath(ROOT)
    folders = [os.path.realpath(folder) for folder in hou.houdiniPath()]
    # After our first place; a child process's HOUDINI_PATH can hold ours twice (the package again).
    for folder in folders[folders.index(ours) + 1 :] if ours in folders else []:
        if folder == ours:
            continue
        path = os.path.join(folder, "scripts", script)
        if os.path.isfile(path + ".py"):  # in one folder, Houdini prefers .py to .cmd
            runpy.run_path(path + ".py", run_name="__main__")
            return
        if os.path.isfile(path + ".cmd"):
            hou.hscript("source '{}'".format(path + ".cmd"))
            return
