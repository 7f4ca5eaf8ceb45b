"""What touches `hou` (and the demo's stand-in for it): the only code that imports Houdini's modules."""
