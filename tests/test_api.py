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
