"""Render the panel offscreen, serving this Python with two clients connected, to docs/panel.png
(the picture the README shows).

    QT_QPA_PLATFORM=offscreen python docs/render_panel.py
"""

import os
import select
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python3.7libs"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HRPYC_STATE_DIR", tempfile.mkdtemp())

from Qt import QtWidgets  # noqa: E402

import hrpyc  # noqa: E402
import hrpyc.panel  # noqa: E402

CLIENT = (
    "import sys, time\n"
    "sys.path.insert(0, sys.argv[3])\n"
    "import hrpyc\n"
    "conn = hrpyc.connect(sys.argv[1], int(sys.argv[2]))\n"
    "for _ in range(int(sys.argv[4])):\n"
    "    conn.modules.os.getcwd()\n"
    "print('ok', flush=True)\n"
    "sys.stdin.read()\n"
)


def main():
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    window = hrpyc.panel.create_widget()
    window.resize(760, 560)
    window.show()
    window.port_edit.setText("18811")
    window.controller.start()
    server = hrpyc.running_server()
    libs = os.path.join(os.path.dirname(HERE), "python3.7libs")
    clients = []
    for calls in (42, 7):
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT, server.address[0], str(server.address[1]), libs, str(calls)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        clients.append(client)
    for client in clients:  # their calls are answered on this Qt thread: keep its loop running meanwhile
        while not select.select([client.stdout], [], [], 0.01)[0]:
            app.processEvents()
        assert client.stdout.readline().strip() == "ok"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    window.clients.selectRow(0)
    window.controller._refresh()
    path = os.path.join(HERE, "panel.png")
    window.grab().save(path)
    print("hrpyc: wrote", path)
    for client in clients:
        client.kill()
    hrpyc.stop_server()


if __name__ == "__main__":
    main()
