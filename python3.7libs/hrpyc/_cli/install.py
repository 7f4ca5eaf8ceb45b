"""Both sides: `hrpyc install`: install hrpyc as a Houdini package for this user, remove it, or check a
package file.

    hrpyc install [--dry-run] [--uninstall] [--prefs DIR] [--houdini-version X.Y]
    hrpyc install --check PACKAGE.json
    python houdini_package/hrpyc_install.py ...   (the same, from a checkout, before rpyc is installed)

Writes `packages/hrpyc.json` into each Houdini preference folder found (18.5 and later), found as Houdini
finds it on this OS (see _oslayer.folders), and says which and why. From a checkout,
it points at the checkout. From a pip-installed hrpyc, the files Houdini reads ship inside the package
(`hrpyc/houdini_files`: hrpyc.json, the start-up hooks, the shelf and the pane tab) and are copied, with
the hrpyc package, into `packages/hrpyc/` beside the package file, which Houdini's scan ignores: Houdini
must not see that Python's site-packages, whose rpyc, numpy or Qt would shadow its own. Imports nothing
but hrpyc._common.config and hrpyc._oslayer (standard library only).
"""

import argparse
import filecmp
import glob
import json
import os
import re
import shutil
import sys
from typing import Dict, List, Optional, Tuple

from hrpyc._common import config
from hrpyc._oslayer import console, folders

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the hrpyc package (this is hrpyc/_cli/)
CHECKOUT = os.path.dirname(os.path.dirname(HERE))  # a checkout's top, when this runs from one
SHIPPED = os.path.join(HERE, "houdini_files")  # a wheel's copy of the checkout's Houdini files
PACKAGE = "hrpyc.json"
COPY = "hrpyc"  # packages/hrpyc/: a pip-installed hrpyc's copy, beside packages/hrpyc.json
OLDEST = (18, 5)
HOOKS = ("pythonrc.py", "uiready.py")
# Every Python a supported Houdini runs its start-up scripts with: 18.5/19.0 3.7, 19.5 3.9, 20.0 3.10
# (and 21.0's alternate build), 20.5/21.0 3.11 (and 22.0's alternate build), 22.0 3.13.
PYTHONS = ("3.7", "3.9", "3.10", "3.11", "3.13")
MARK = ".made-by-hrpyc-install"  # in the copy a pip install makes: only a folder carrying it is replaced or removed
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "houdini_files", MARK)


def from_checkout() -> bool:
    """Does this hrpyc run from a checkout (else from a pip install, with its Houdini files shipped)?"""
    return os.path.isfile(os.path.join(CHECKOUT, PACKAGE)) and os.path.isdir(os.path.join(CHECKOUT, "scripts"))


def preference_dirs(version: Optional[str] = None) -> Tuple[List[str], str]:
    """This user's Houdini preference folders (those of 18.5 and later that exist, or `version`'s) and a
    line saying where they were looked for and why."""
    pattern, why = folders.preference_pattern(config.houdini_user_pref_dir(), config.windows_homes())
    said = "hrpyc: Houdini's preference folder: {} ({})".format(pattern.replace(folders.VERSION, "X.Y"), why)
    if folders.VERSION not in pattern:
        return [pattern], said
    if version:
        return [pattern.replace(folders.VERSION, folder_version(version))], said
    found = []
    for path in sorted(glob.glob(glob.escape(pattern).replace(folders.VERSION, "*"))):
        match = re.search(r"(\d+)\.(\d+)$", path)
        if match and os.path.isdir(path) and (int(match.group(1)), int(match.group(2))) >= OLDEST:
            found.append(path)
    return found, said


def folder_version(version):
    """'22' -> '22.0', as Houdini names its preference folders (houdini22.0), '21.0.440' (as Houdini's About
    box writes it) -> '21.0'; ValueError if not X, X.Y or X.Y.Z."""
    match = re.match(r"^(\d+)(?:\.(\d+)(?:\.\d+)?)?$", version.strip())
    if not match:
        raise ValueError(
            "--houdini-version {!r}: give a Houdini version such as 21.0, 20.5 or 21.0.440".format(version)
        )
    return "{}.{}".format(match.group(1), match.group(2) or 0)


def package_text(root: str, source: str = CHECKOUT) -> str:
    """`source`'s hrpyc.json with `root` in place of $HOUDINI_PACKAGE_PATH."""
    with open(os.path.join(source, PACKAGE), encoding="utf-8-sig") as handle:
        package = json.load(handle)
    for entry in package["env"]:
        if "HRPYC_ROOT" in entry:
            entry["HRPYC_ROOT"] = root.replace("\\", "/")
    return json.dumps(package, indent=4) + "\n"


def install(prefs: List[str], dry_run: bool = False, uninstall: bool = False) -> List[str]:
    """Write (or remove) packages/hrpyc.json in each folder, and a pip install's copy; the lines to print."""
    lines = []
    for pref in prefs:
        target, copy = os.path.join(pref, "packages", PACKAGE), os.path.join(pref, "packages", COPY)
        current = _read(target)
        if uninstall:
            lines += _uninstall(target, copy, current, dry_run)
            continue
        root, source = (CHECKOUT, CHECKOUT) if from_checkout() else (copy, SHIPPED)
        text = package_text(root, source)
        stale = root == copy and not _same_tree(copy)
        if current == text and not stale:
            lines.append("hrpyc: {} is already installed, pointing at {}".format(target, root))
            continue
        if stale and os.path.lexists(copy) and not _made_here(copy):
            lines.append(
                "hrpyc: {} exists and is not a copy hrpyc install made; left alone - move it away, then install "
                "again".format(copy)
            )
            continue
        if not dry_run:
            if stale:
                if os.path.lexists(copy):
                    shutil.rmtree(copy)
                shutil.copytree(SHIPPED, copy, ignore=IGNORED)
                shutil.copytree(HERE, os.path.join(copy, "python3.7libs", "hrpyc"), ignore=IGNORED)
                open(os.path.join(copy, MARK), "w", encoding="utf-8").close()
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
        copied = " (a copy of the pip-installed hrpyc in {})".format(HERE) if root == copy else ""
        lines.append("hrpyc: {}{} -> {}{}".format("would write " if dry_run else "wrote ", target, root, copied))
    return lines


def _uninstall(target: str, copy: str, current: Optional[str], dry_run: bool) -> List[str]:
    would = "would have " if dry_run else ""
    if current is None:
        lines = ["hrpyc: nothing to remove in {}".format(os.path.dirname(os.path.dirname(target)))]
    elif "HRPYC_ROOT" not in current:
        return ["hrpyc: {} is not hrpyc's package file; left alone".format(target)]
    else:
        if not dry_run:
            os.remove(target)
        lines = ["hrpyc: {}removed {}".format(would, target)]
    if _made_here(copy):
        if not dry_run:
            shutil.rmtree(copy)
        lines.append("hrpyc: {}removed {}".format(would, copy))
    elif os.path.lexists(copy):
        lines.append("hrpyc: {} is not a copy hrpyc install made; left alone".format(copy))
    return lines


def _made_here(copy: str) -> bool:
    """Is `copy` a folder hrpyc install made (not a link, not someone's checkout)?"""
    return not os.path.islink(copy) and os.path.isfile(os.path.join(copy, MARK))


def _files(top: str) -> List[str]:
    """The files under `top`, relative to it, that copytree(ignore=IGNORED) copies."""
    found = []
    for folder, dirs, files in os.walk(top):
        ignored = IGNORED(folder, dirs + files)
        dirs[:] = [d for d in dirs if d not in ignored]
        found += [os.path.relpath(os.path.join(folder, f), top) for f in files if f not in ignored]
    return sorted(found)


def _same_tree(copy: str) -> bool:
    """Is `copy` what installing this hrpyc would copy there, file for file?"""
    wanted: List[Tuple[str, str]] = [(os.path.join(SHIPPED, f), f) for f in _files(SHIPPED)]
    wanted += [(os.path.join(HERE, f), os.path.join("python3.7libs", "hrpyc", f)) for f in _files(HERE)]
    if not os.path.isdir(copy) or sorted(f for _, f in wanted) != _files(copy):
        return False
    return all(filecmp.cmp(source, os.path.join(copy, f), shallow=False) for source, f in wanted)


def check(path):
    """Validate a package file as Houdini would read it; returns (ok, lines)."""
    lines, ok = [], True
    try:
        with open(path, encoding="utf-8-sig") as handle:
            package = json.load(handle)
    except (OSError, ValueError) as exc:
        return False, ["hrpyc: {} is not a readable JSON package file: {}".format(path, exc)]
    env = {"HOUDINI_PACKAGE_PATH": os.path.dirname(os.path.abspath(path)).replace("\\", "/")}
    added: Dict[str, List[str]] = {"PYTHONPATH": [], "HOUDINI_PATH": []}
    for entry in package.get("env", []):
        for name, value in entry.items():
            if isinstance(value, dict):
                value = value.get("value", "")
            for item in value if isinstance(value, list) else [value]:
                expanded = _expand(str(item), env)
                if name in added:
                    added[name].append(expanded)
                else:
                    env[name] = expanded
    for key in ("path", "hpath"):
        value = package.get(key, [])
        added["HOUDINI_PATH"] += [_expand(str(v), env) for v in (value if isinstance(value, list) else [value])]
    lines.append("hrpyc: {} is valid JSON; for Houdini it sets:".format(path))
    for name, value in sorted(env.items()):
        if name != "HOUDINI_PACKAGE_PATH":
            lines.append("  {} = {}".format(name, value))
    for name, values in added.items():
        for value in values:
            lines.append("  {} += {}".format(name, value))
    libs = [v for v in added["PYTHONPATH"] if os.path.isfile(os.path.join(v, "hrpyc", "__init__.py"))]
    if not libs:
        ok = False
        lines.append("  problem: no PYTHONPATH entry holds the hrpyc package: `import hrpyc` would fail")
    for home in added["HOUDINI_PATH"]:
        wanted = ["scripts/456.py"] + ["python{}libs/{}".format(v, hook) for v in PYTHONS for hook in HOOKS]
        missing = [w for w in wanted if not os.path.isfile(os.path.join(home, w))]
        if not os.path.isdir(home):
            ok = False
            lines.append("  problem: HOUDINI_PATH entry {} does not exist".format(home))
        elif missing:
            ok = False
            lines.append("  problem: {} lacks {}".format(home, ", ".join(missing)))
    if not added["HOUDINI_PATH"]:
        ok = False
        lines.append("  problem: nothing is added to HOUDINI_PATH: no hooks, shelf or panel")
    lines.append("hrpyc: {}".format("package OK" if ok else "package has problems (see above)"))
    return ok, lines


def _expand(text, env):
    """$NAME and ${NAME}: the package's own variables first, then the environment's, as Houdini expands."""

    def value(match):
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return os.path.expandvars(re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text))


def _read(path):
    """The text of a package file (None if there is none); bytes that are not UTF-8 read as U+FFFD: it
    is then not ours, whatever else it is."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="hrpyc install",
        description="Install hrpyc as a Houdini package for this user, remove it, or check a package file.",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    parser.add_argument("--uninstall", action="store_true", help="remove hrpyc's package file")
    parser.add_argument("--prefs", action="append", help="a Houdini preference folder (repeatable)")
    parser.add_argument("--houdini-version", help="X.Y (or X.Y.Z): the folder of a Houdini not started yet")
    parser.add_argument("--check", metavar="PACKAGE", help="validate a package file and show what it sets")
    args = parser.parse_args(argv)
    if args.check:
        ok, lines = check(args.check)
        console.say("\n".join(lines))
        return 0 if ok else 1
    try:
        if args.prefs:
            prefs, said = args.prefs, "hrpyc: Houdini's preference folder: the one --prefs names"
        else:
            prefs, said = preference_dirs(args.houdini_version)
    except ValueError as exc:
        parser.error(str(exc))
    console.say(said)
    if not prefs:
        console.say(
            "hrpyc: no Houdini preference folder found there (start Houdini once, or pass --houdini-version X.Y "
            "or --prefs DIR)",
            sys.stderr,
        )
        return 1
    console.say("\n".join(install(prefs, dry_run=args.dry_run, uninstall=args.uninstall)))
    return 0
