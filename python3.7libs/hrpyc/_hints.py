"""Both sides: how an error's message names the settings that fix it, beside hrpyc.errors (which imports
nothing above it) and re-exported there.

A message names them as `Setting`s: `str(error)` spells them in Python's words (`port=0`), and
`error.worded(spell)` in the words of the interface showing it (the CLI's `--port 0`, HRPYC_PORT).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

PORT_RANGE = "18811-18820"  # the range hints offer where a range is taken: ten ports from SideFX's default


class Setting:
    """A setting an error message names, spelled by the interface that shows the message."""

    __slots__ = ("name", "or_range", "value")

    def __init__(self, name: str, value: Any = None, or_range: str = "") -> None:
        """`value` None: the setting itself, not one value of it. `or_range`: a range (`18811-18820`) the
        interfaces that take one (`hrpyc serve --port`, HRPYC_PORT) offer besides `value`; Python's
        keyword takes none, so `str()` leaves it out."""
        self.name, self.value, self.or_range = name, value, or_range

    def __str__(self) -> str:
        """The Python keyword: `port=0`, `token=`."""
        return "{}={}".format(self.name, "" if self.value is None else repr(self.value))


def spelled(template: str, values: Sequence[Any], spell: Callable[[Setting], str]) -> str:
    """`template` filled with `values`, each Setting among them spelled by `spell`."""
    return template.format(*(spell(value) if isinstance(value, Setting) else value for value in values))
