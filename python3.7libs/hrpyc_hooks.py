"""What every Houdini start-up hook of the hrpyc package runs (pythonrc.py, uiready.py, 456.py).

Kept apart from the hrpyc package and cheap: with autostart off a hook costs reading HRPYC_AUTOSTART
through hrpyc._common.config, not the ~100 ms of importing rpyc; and whatever goes wrong, a hook prints one
line and Houdini's start-up goes on.
"""

import importlib.util
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def claim_name():
    """SideFX ships its own hrpyc.py in $HFS/houdini/python3.Xlibs; make `import hrpyc` find ours,
    wherever Houdini put its folders in sys.path."""
    module = sys.modules.get("hrpyc")
    if module is not None:
        found = getattr(module, "__file__", None) or ""
    else:
        spec = importlib.util.find_spec("hrpyc")
        found = (spec.origin or "") if spec is not None else ""
    here = _real(HERE)
    if found and _real(os.path.dirname(os.path.dirname(found))) == here:  # .../python3.7libs/hrpyc/__init__.py
        return
    sys.path[:] = [entry for entry in sys.path if not entry or _real(entry) != here]
    sys.path.insert(0, HERE)
    sys.modules.pop("hrpyc", None)


def _real(path):
    """`path` as the file system resolves it: Houdini spells its folders its own way (`C:/Users/...` for
    `C:\\Users\\...`, another case, a link), and Windows' names ignore case."""
    return os.path.normcase(os.path.realpath(path))


def _config():
    """hrpyc._common.config on its own: it imports nothing of hrpyc's, and the package would import rpyc first.
    A private copy (config keeps no state); the package loads its own when it is used."""
    path = os.path.join(HERE, "hrpyc", "_common", "config.py")
    spec = importlib.util.spec_from_file_location("hrpyc._common.config", path)
    if spec is None or spec.loader is None:  # not for a .py file that exists
        raise ImportError("cannot load {}".format(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _say(text):
    """print(text) in ASCII, with escapes for the rest: a hook's line may name a path in any script, and
    Houdini's console may be cp1252 (Windows) or ASCII (the C locale). Not _oslayer.console.say, which
    imports the hrpyc package, and so rpyc: what these lines may be reporting missing."""
    print(text.encode("ascii", "backslashreplace").decode("ascii"), flush=True)


_broken = False  # hrpyc could not be loaded; said so once


def run(hook):
    """Start hrpyc if HRPYC_AUTOSTART asks for it; never raise."""
    global _broken
    if _broken:
        return
    try:
        claim_name()
        start = None
        if _config().autostart():
            from hrpyc._server.autostart import from_hook as start
    except ValueError as exc:  # hrpyc.ConfigError: HRPYC_AUTOSTART has a value config cannot read
        _broken = True
        _say("hrpyc: not started: {}".format(exc))
        return
    except Exception as exc:  # a missing rpyc, a broken install: say so, and let Houdini go on
        _broken = True
        _say(
            "hrpyc: cannot load hrpyc ({}: {}); check that rpyc is installed in this Houdini's Python "
            "and that the hrpyc package is loaded".format(type(exc).__name__, exc)
        )
        return
    if start is not None:
        start(hook)


def hand_on(script):
    """Run the `scripts/<script>` Houdini would have run without ours: Houdini runs only the first
    `<script>.py` (or `.cmd`) on HOUDINI_PATH, and a package's folders come before the user's and the
    studio's, so ours must hand on for theirs to run at all."""
    global _handing_on
    if _handing_on:  # another hrpyc copy's script, run by ours: the chain goes on from ours alone
        return
    import hou

    _handing_on = True
    try:
        found = _next_script(hou.houdiniPath(), script)
        if found is None:
            return
        if found.endswith(".py"):
            runpy.run_path(found, run_name="__main__")
        else:
            output, errors = hou.hscript('source "{}"'.format(found.replace("\\", "/")))
            for text in (output, errors):
                if text.strip():
                    _say(text.rstrip())
    finally:
        _handing_on = False


_handing_on = False


def _next_script(folders, script):
    """The script Houdini would have run had no hrpyc copy been on `folders`: the first `<script>.py` or
    `.cmd` in a folder that is not an hrpyc copy (in one folder Houdini prefers .py to .cmd). Copies
    are told by their files, not by how the path spells them."""
    for folder in folders:
        if os.path.isfile(os.path.join(folder, "python3.7libs", "hrpyc_hooks.py")):
            continue  # ours, or another copy (a studio's and a developer's, say)
        for extension in (".py", ".cmd"):
            candidate = os.path.join(folder, "scripts", script + extension)
            if os.path.isfile(candidate):
                return candidate
    return None
