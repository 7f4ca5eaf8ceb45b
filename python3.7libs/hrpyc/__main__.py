"""Both sides: `python -m hrpyc`: the same as the `hrpyc` command."""

import sys

from .cli import main

sys.exit(main())
