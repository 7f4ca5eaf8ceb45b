"""A Qt application outside Houdini (PySide6, else PySide2) that starts hrpyc and runs its event loop;
`quit` on stdin (or end of input) ends it. `ticks` records its event loop's heartbeat."""

import collections
import sys
import threading
import time

try:
    from PySide6 import QtCore
except ImportError:
    from PySide2 import QtCore

import hrpyc

app = QtCore.QCoreApplication(sys.argv)

# The event loop's heartbeat, as a UI's repaints and timers: when each tick of a 2 ms timer ran.
ticks = collections.deque(maxlen=20000)
heartbeat = QtCore.QTimer()
heartbeat.timeout.connect(lambda: ticks.append(time.monotonic()))
heartbeat.start(2)
server = hrpyc.start_server(port=0)
print("serving on {}:{} (dispatch: {})".format(server.address[0], server.address[1], server.dispatch), flush=True)


def commands():
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    QtCore.QMetaObject.invokeMethod(app, "quit", QtCore.Qt.QueuedConnection)


threading.Thread(target=commands, daemon=True).start()
sys.exit(app.exec() if hasattr(app, "exec") else app.exec_())
