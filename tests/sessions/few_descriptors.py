"""`hrpyc serve` in a process allowed only a few open files (the first argument): where a burst of
silent sockets makes accept() fail with EMFILE."""

import resource
import sys

import hrpyc._cli.main

limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
sys.exit(hrpyc._cli.main.main(["serve", "--port", "0"]))
