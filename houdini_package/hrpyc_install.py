"""Install hrpyc as a Houdini package for this user, remove it, or check a package file: a checkout's way
in to `hrpyc install` (hrpyc/install.py), for a Python that has no rpyc yet.

    python houdini_package/hrpyc_install.py [--dry-run] [--uninstall] [--prefs DIR] [--houdini-version X.Y]
    python houdini_package/hrpyc_install.py --check PACKAGE.json
"""

import importlib.util
import os
import sys

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python3.7libs", "hrpyc")
# The package's folder without running its __init__, which imports rpyc; the installer needs only itself
# and hrpyc._common.config, which import nothing else.
_spec = importlib.util.spec_from_file_location(
    "hrpyc", os.path.join(PACKAGE, "__init__.py"), submodule_search_locations=[PACKAGE]
)
sys.modules["hrpyc"] = importlib.util.module_from_spec(_spec)

from hrpyc._cli.install import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
