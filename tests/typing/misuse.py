"""A mistake pyright must report (.ci/run fails if it does not): the remote hou is typed, not Any."""

import hrpyc

connection, hou = hrpyc.import_remote_module()
hou.node(1)
