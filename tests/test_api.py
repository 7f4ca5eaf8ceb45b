"""The public API is what `hrpyc/__init__.py` exports, nothing more and nothing less."""

import inspect

import hrpyc


def test_all_lists_exactly_the_public_names():
    # the package's own modules are importable, but they are not the API
    public = {name for name, value in vars(hrpyc).items() if not name.startswith("_") and not inspect.ismodule(value)}
    assert sorted(public) == sorted(n for n in hrpyc.__all__ if n != "__version__")


def test_every_error_is_an_hrpyc_error_and_port_in_use_is_an_os_error():
    for name in hrpyc.__all__:
        value = getattr(hrpyc, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, hrpyc.HrpycError), name
    assert issubclass(hrpyc.PortInUseError, OSError)


def test_importing_hrpyc_loads_no_qt_and_no_hou():
    import subprocess
    import sys

    from conftest import child_env

    script = "import hrpyc, sys; print(sorted(m for m in sys.modules if m.startswith(('PySide', 'PyQt', 'Qt', 'hou'))))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=child_env()).stdout
    assert out.strip() == "[]"


def _drawn_tree():
    """{error: (parent, builtin base or None)} as errors.py's docstring draws it."""
    import re

    import hrpyc.errors

    tree, parents = {}, []  # parents: (column, name) of the open branches
    for line in hrpyc.errors.__doc__.splitlines():
        match = re.match(r"^(\s*(?:[│ ]*[├└]── )?)([A-Z]\w+Error)(?: \((\w+)\))?", line)
        if not match:
            continue
        column = len(match.group(1))
        while parents and parents[-1][0] >= column:
            parents.pop()
        tree[match.group(2)] = (parents[-1][1] if parents else None, match.group(3))
        parents.append((column, match.group(2)))
    return tree


def test_the_exception_tree_is_drawn_once_as_the_classes_are_built():
    import builtins

    errors = {name for name in hrpyc.__all__ if isinstance(getattr(hrpyc, name), type)} - {"Server", "ClientInfo"}
    errors = {name for name in errors if issubclass(getattr(hrpyc, name), Exception)}
    tree = _drawn_tree()
    assert set(tree) == errors
    for name, (parent, builtin) in tree.items():
        cls = getattr(hrpyc, name)
        if parent is not None:
            assert getattr(hrpyc, parent) in cls.__bases__, name
        if builtin is not None:
            assert issubclass(cls, getattr(builtins, builtin)), name


def test_the_readme_troubleshooting_table_has_a_row_for_every_error():
    import os
    import re

    readme = open(
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md"), encoding="utf-8"
    ).read()
    section = readme.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+Error)`", section, flags=re.MULTILINE)
    assert sorted(rows) == sorted(set(_drawn_tree()) - {"HrpycError"})
    assert len(rows) == len(set(rows))


def test_config_and_the_rpyc_versions_module_import_nothing_of_ours_when_they_load():
    """config is read by Houdini's start-up hooks on its own (only a bad value imports errors, to raise
    ConfigError); rpyc_versions is the floor the modules that touch rpyc stand on."""
    import ast

    import hrpyc._common.config
    import hrpyc._wire.rpyc_versions

    for module in (hrpyc._common.config, hrpyc._wire.rpyc_versions):
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())
        top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        ours = [
            node
            for node in top
            if (isinstance(node, ast.ImportFrom) and (node.level or node.module.split(".")[0] == "hrpyc"))
            or (isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "hrpyc" for alias in node.names))
        ]
        assert ours == [], module.__name__


def test_only_config_reads_the_environment():
    """Every setting has one reader: a second one would give "0" or "off" a meaning of its own.
    (autostart's `os.environ[NAME] = pid` tells child processes who owns the port: a write.)"""
    import ast
    import glob
    import os

    import hrpyc._common.config

    libs = os.path.dirname(os.path.dirname(os.path.dirname(hrpyc._common.config.__file__)))  # python3.7libs
    readers = []
    for path in glob.glob(os.path.join(libs, "**", "*.py"), recursive=True):
        if path == hrpyc._common.config.__file__:
            continue
        tree = ast.parse(open(path, encoding="utf-8").read())
        assigned = [node for node in ast.walk(tree) if isinstance(node, ast.Assign)]
        writes = {id(t.value) for node in assigned for t in node.targets if isinstance(t, ast.Subscript)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("getenv", "environ") and id(node) not in writes:
                readers.append("{}:{}".format(os.path.relpath(path, libs), node.lineno))
    assert readers == []


def _package_modules():
    """(dotted name, path) of every module of the package, from its files."""
    import os

    import hrpyc

    root = os.path.dirname(hrpyc.__file__)
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = ["hrpyc", *os.path.relpath(path, root)[: -len(".py")].split(os.sep)]
                yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def test_only_the_front_and_the_errors_are_public_import_paths():
    """What a user or a tool imports is `hrpyc` (SideFX's names included) and `hrpyc.errors`; every other
    module is private (a `_` in its path), free to move without breaking anyone."""
    public = [name for name, _ in _package_modules() if not any(part.startswith("_") for part in name.split("."))]
    assert sorted(public) == ["hrpyc", "hrpyc.errors"]


def test_each_folder_says_in_its_init_what_lives_there_and_no_module_or_class_grows_past_its_size():
    import ast

    for name, path in _package_modules():
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        tree = ast.parse(source)
        assert ast.get_docstring(tree), name
        assert source.count("\n") <= 400, (name, source.count("\n"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):  # its last line (Python 3.7's ast has no end_lineno)
                last = max(getattr(part, "end_lineno", None) or getattr(part, "lineno", 0) for part in ast.walk(node))
                assert last - node.lineno < 200, (name, node.name)
