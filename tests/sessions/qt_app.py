"""A Qt application outside Houdini (PySide6, else PySide2) that starts hrpyc and runs its event loop;
`quit` on stdin (or end of input) ends it."""

import sys
import threading

try:
    from PySide6 import QtCore
except ImportError:
    from PySide2 import QtCore

import hrpyc

app = QtCore.QCoreApplication(sys.argv)
server = hrpyc.start_server(port=0)
print("serving on {}:{} (dispatch: {})".format(server.address[0], server.address[1], server.dispatch), flush=True)


def commands():
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    QtCore.QMetaObject.invokeMethod(app, "quit", QtCore.Qt.QueuedConnection)


threading.Thread(target=commands, daemon=True).start()
sys.exit(app.exec() if hasattr(app, "exec") else app.exec_())
