"""The `hrpyc` command: its verbs, the shell, the installer, the MCP server."""
