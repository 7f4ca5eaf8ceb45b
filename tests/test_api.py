"""The public API is what `hrpyc/__init__.py` exports, nothing more and nothing less."""

import hrpyc


def test_all_lists_exactly_the_public_names():
    public = {name for name in vars(hrpyc) if not name.startswith("_")} - {
        # the package's own modules, importable but not API
        "address",
        "cli",
        "client",
        "clients",
        "config",
        "dispatch",
        "errors",
        "events",
        "houdini",
        "rpyc_compat",
        "server",
        "service",
        "version",
    }
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
