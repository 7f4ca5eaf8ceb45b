"""Houdini runs every pythonrc.py on its path early at start-up: hrpyc's autostart (see hrpyc_hooks)."""

import hrpyc_hooks

hrpyc_hooks.run("pythonrc")
