"""Ships the checkout's files Houdini reads (the package file, the start-up hooks, the shelf and the pane
tab) inside the wheel as hrpyc/houdini_files, so `hrpyc install` works from a pip install; the rest of the
build is pyproject.toml's. An editable install needs no copy: it runs from the checkout, which has them.

The package's description is the README with each picture given as its words: its relative link would
break wherever the description travels without the checkout (a package index, `pip show`)."""

import glob
import os
import re

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


def description():
    with open("README.md", encoding="utf-8") as readme:
        text = readme.read()
    return re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r"*(Picture, \2 in the source archive: \1)*", text)


setup(
    cmdclass={"build_py": BuildWithHoudiniFiles},
    long_description=description(),
    long_description_content_type="text/markdown",
)
