"""Houdini runs 456.py at every scene load and File > New: hrpyc's autostart, then the 456 script
Houdini would have run without hrpyc's (see hrpyc_hooks)."""

import hrpyc_hooks

hrpyc_hooks.run("456")
hrpyc_hooks.hand_on("456")
