"""Houdini runs 456.py at every scene load and File > New: hrpyc's autostart (see hrpyc_hooks)."""

import hrpyc_hooks

hrpyc_hooks.run("456")
