"""A client script as a pipeline developer writes it, with types-houdini installed: pyright (VS Code's
Pylance) types the remote `hou` as the hou module, mypy as a module; both pass it (.ci/run checks)."""

import hrpyc

connection, hou = hrpyc.import_remote_module()
sphere = hou.node("/obj/sphere1")
if sphere is not None:
    sphere.parm("scale").set(2.0)  # type: ignore[union-attr]  # parm() may be None: the stubs say so
    print(sphere.path(), hou.frame())

connection, os_module = hrpyc.import_remote_module(name="os")  # any other module: untyped, as before
print(os_module.getpid())
