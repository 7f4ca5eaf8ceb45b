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


def test_importing_hrpyc_needs_no_qt_and_no_hou():
    import sys

    assert "hou" not in sys.modules or sys.modules["hou"] is None
    assert not any(name.startswith(("PySide", "PyQt", "hou")) for name in sys.modules if name != "hou")
