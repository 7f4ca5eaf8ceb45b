"""Server side: what the demo scene's session holds besides its nodes (see hrpyc._houdini.demo): the scene's
file (hou.hipFile), the current frame (hou.frame, setFrame, fps, time), and the expansion of $HIP, $HIPNAME,
$F and $F4 in string parameters, which reads both. The demo serves these as hou's own.
"""

from __future__ import annotations

import os
from typing import Optional


class _HipFile(object):
    """hou.hipFile: the scene's file name. The demo writes no file: save() takes the name and marks the
    scene saved."""

    def __init__(self) -> None:
        self._path, self._unsaved = os.path.join(os.getcwd(), "untitled.hip"), False

    def path(self) -> str:
        return self._path

    def name(self) -> str:
        return self._path

    def basename(self) -> str:
        return os.path.basename(self._path)

    def hasUnsavedChanges(self) -> bool:
        return self._unsaved

    def save(self, file_name: Optional[str] = None, save_to_recent_files: bool = True) -> None:
        if file_name:
            self._path = os.path.abspath(file_name)
        self._unsaved = False


class _Playbar(object):
    """The frame hou.frame() and hou.setFrame() share: one per process (Houdini keeps one per thread,
    which hrpyc's server syncs for it; the demo needs none of that)."""

    def __init__(self) -> None:
        self.frame = 1.0


hipFile = _HipFile()
_playbar = _Playbar()


def changed() -> None:
    """The scene changed (a node made, wired or destroyed, a parameter set): it has unsaved changes."""
    hipFile._unsaved = True


def expanded(text: str) -> str:
    """A string parameter's value as Houdini expands it, for the variables the demo knows: $HIP, $HIPNAME,
    $F4 and $F (the current frame)."""
    hip = hipFile.path()
    for variable, value in (
        ("$HIPNAME", os.path.splitext(os.path.basename(hip))[0]),
        ("$HIP", os.path.dirname(hip)),
        ("$F4", "{:04d}".format(int(_playbar.frame))),
        ("$F", str(int(_playbar.frame))),
    ):
        text = text.replace(variable, value)
    return text


def frame() -> float:
    return _playbar.frame


def setFrame(frame: float) -> None:
    _playbar.frame = float(frame)


def fps() -> float:
    return 24.0


def time() -> float:
    """Seconds at the current frame, frame 1 being 0 s, as hou.time() counts them."""
    return (_playbar.frame - 1) / fps()
