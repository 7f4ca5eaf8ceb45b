"""Both sides, plain Python: settings, addresses, printable peer text, identity, the per-user folder and
session records, exact reads off sockets and streams."""
