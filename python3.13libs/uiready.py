"""Houdini runs uiready.py once its UI is up: hrpyc's autostart (see hrpyc_hooks)."""

import hrpyc_hooks

hrpyc_hooks.run("uiready")
