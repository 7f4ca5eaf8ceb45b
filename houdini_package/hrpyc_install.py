"""Install hrpyc as a Houdini package for this user, remove it, or check a package file.

    python houdini_package/hrpyc_install.py [--dry-run] [--uninstall] [--prefs DIR] [--houdini-version X.Y]
    python houdini_package/hrpyc_install.py --check PACKAGE.json
    hrpyc install ...   (the same, from an installed hrpyc)

Writes `packages/hrpyc.json` into each Houdini preference folder found (18.5 and later), pointing at the
checkout this file belongs to. Standard library only: it runs before rpyc is installed anywhere.
"""

import argparse
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "hrpyc.json"
OLDEST = (18, 5)
HOOKS = ("pythonrc.py", "uiready.py")
# Every Python a supported Houdini runs its start-up scripts with: 18.5/19.0 3.7, 19.5 3.9, 20.0 3.10
# (and 21.0's alternate build), 20.5/21.0 3.11 (and 22.0's alternate build), 22.0 3.13.
PYTHONS = ("3.7", "3.9", "3.10", "3.11", "3.13")


def preference_dirs(version=None):
    """This user's Houdini preference folders: HOUDINI_USER_PREF_DIR if set, else the platform's."""
    override = os.environ.get("HOUDINI_USER_PREF_DIR", "").strip()
    if override and "__HVER__" not in override:
        return [override]
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        pattern = os.path.join(home, "Library", "Preferences", "houdini", "{}")
    elif sys.platform == "win32":
        pattern = os.path.join(os.environ.get("USERPROFILE", home), "Documents", "houdini{}")
    else:
        pattern = os.path.join(home, "houdini{}")
    if override:
        pattern = override.replace("__HVER__", "{}")
    if version:
        return [pattern.format(folder_version(version))]
    found = []
    for path in sorted(glob.glob(pattern.format("*"))):
        match = re.search(r"(\d+)\.(\d+)$", path)
        if match and os.path.isdir(path) and (int(match.group(1)), int(match.group(2))) >= OLDEST:
            found.append(path)
    return found


def folder_version(version):
    """'22' -> '22.0', as Houdini names its preference folders (houdini22.0); ValueError if not X or X.Y."""
    match = re.match(r"^(\d+)(?:\.(\d+))?$", version.strip())
    if not match:
        raise ValueError("--houdini-version {!r}: give a Houdini version such as 21.0 or 20.5".format(version))
    return "{}.{}".format(match.group(1), match.group(2) or 0)


def package_text(root=ROOT):
    """hrpyc.json with the checkout's path in place of $HOUDINI_PACKAGE_PATH."""
    with open(os.path.join(root, PACKAGE)) as handle:
        package = json.load(handle)
    for entry in package["env"]:
        if "HRPYC_ROOT" in entry:
            entry["HRPYC_ROOT"] = root.replace("\\", "/")
    return json.dumps(package, indent=4) + "\n"


def install(prefs, dry_run=False, uninstall=False, root=ROOT):
    """Write (or remove) packages/hrpyc.json in each folder; returns the lines to print."""
    lines, text = [], package_text(root)
    for pref in prefs:
        target = os.path.join(pref, "packages", PACKAGE)
        current = _read(target)
        if uninstall:
            if current is None:
                lines.append("hrpyc: nothing to remove in {}".format(pref))
            elif "HRPYC_ROOT" not in current:
                lines.append("hrpyc: {} is not hrpyc's package file; left alone".format(target))
            else:
                if not dry_run:
                    os.remove(target)
                lines.append("hrpyc: {}removed {}".format("would have " if dry_run else "", target))
        elif current == text:
            lines.append("hrpyc: {} is already installed, pointing at {}".format(target, root))
        else:
            if not dry_run:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w") as handle:
                    handle.write(text)
            lines.append("hrpyc: {}{} -> {}".format("would write " if dry_run else "wrote ", target, root))
    return lines


def check(path):
    """Validate a package file as Houdini would read it; returns (ok, lines)."""
    lines, ok = [], True
    try:
        with open(path) as handle:
            package = json.load(handle)
    except (OSError, ValueError) as exc:
        return False, ["hrpyc: {} is not a readable JSON package file: {}".format(path, exc)]
    env = {"HOUDINI_PACKAGE_PATH": os.path.dirname(os.path.abspath(path)).replace("\\", "/")}
    added = {"PYTHONPATH": [], "HOUDINI_PATH": []}
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
    def value(match):
        name = match.group(1) or match.group(2)
        return env.get(name, os.environ.get(name, match.group(0)))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hrpyc install", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    parser.add_argument("--uninstall", action="store_true", help="remove hrpyc's package file")
    parser.add_argument("--prefs", action="append", help="a Houdini preference folder (repeatable)")
    parser.add_argument("--houdini-version", help="X.Y: the folder of a Houdini not started yet")
    parser.add_argument("--check", metavar="PACKAGE", help="validate a package file and show what it sets")
    args = parser.parse_args(argv)
    if args.check:
        ok, lines = check(args.check)
        print("\n".join(lines))
        return 0 if ok else 1
    try:
        prefs = args.prefs or preference_dirs(args.houdini_version)
    except ValueError as exc:
        parser.error(str(exc))
    if not prefs:
        print(
            "hrpyc: no Houdini preference folder found (start Houdini once, or pass --houdini-version X.Y "
            "or --prefs DIR)",
            file=sys.stderr,
        )
        return 1
    print("\n".join(install(prefs, dry_run=args.dry_run, uninstall=args.uninstall)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
