"""Server side: the code a job runs, as a client sent it - a code block, a function's source, or a function's
compiled code - made into a call in a fresh namespace, apart from the table of jobs that runs it."""

from __future__ import annotations

import builtins
import marshal
import platform
import types
from importlib.util import MAGIC_NUMBER
from typing import Any, Dict, Union


def execute(source: Union[str, types.CodeType], name: str, args: Any, kwargs: Any) -> Any:
    """Run `source` in a fresh namespace: call its function `name` with the arguments, or (no name)
    return the code block's variable `result`; or call the function whose code `source` is (see compiled)."""
    namespace: Dict[str, Any] = {"__name__": "__hrpyc_run__", "__builtins__": vars(builtins)}  # as exec puts it
    if isinstance(source, types.CodeType):
        return types.FunctionType(source, namespace, name)(*args, **kwargs)
    exec(compile(source, "<hrpyc.run>", "exec"), namespace)
    return namespace[name](*args, **kwargs) if name else namespace.get("result")


def compiled(data: bytes) -> types.CodeType:
    """The code of a function a client sent compiled, behind its Python's bytecode magic number, because
    Python kept no source of it (see hrpyc._caller.job): ValueError, in one line, unless this Python compiled the
    same bytecode (another version's would not run here, or crash). Only a client past the server's gate
    sends it, and it may run any code here anyway."""
    if data[: len(MAGIC_NUMBER)] != MAGIC_NUMBER:
        raise ValueError(
            "this function was compiled by another Python version than the server's ({}); send its source "
            "or a string of code".format(platform.python_version())
        )
    try:
        code = marshal.loads(data[len(MAGIC_NUMBER) :])
    except (ValueError, EOFError, TypeError):
        code = None
    if not isinstance(code, types.CodeType) or code.co_freevars:
        raise ValueError("what was sent as a function's compiled code is not the code of a function that stands alone")
    return code
