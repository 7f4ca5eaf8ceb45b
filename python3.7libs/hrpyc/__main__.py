"""Both sides: `python -m hrpyc`: the same as the `hrpyc` command."""

import sys

from hrpyc._cli.main import main

sys.exit(main())
