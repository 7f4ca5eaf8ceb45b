"""Ships the checkout's files Houdini reads (the package file, the start-up hooks, the shelf and the pane
tab) inside the wheel as hrpyc/houdini_files, so `hrpyc install` works from a pip install; the rest of the
build is pyproject.toml's. An editable install needs no copy: it runs from the checkout, which has them."""

import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HOUDINI_FILES = ("hrpyc.json", "python3.*libs/*.py", "scripts/*.py", "toolbar/*.shelf", "python_panels/*.pypanel")


class BuildWithHoudiniFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for pattern in HOUDINI_FILES:
            for path in sorted(glob.glob(pattern)):
                target = os.path.join(self.build_lib, "hrpyc", "houdini_files", path)
                self.mkpath(os.path.dirname(target))
                self.copy_file(path, target)


setup(cmdclass={"build_py": BuildWithHoudiniFiles})
