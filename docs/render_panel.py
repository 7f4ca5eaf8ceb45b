"""Render the panel offscreen, serving this Python, into the pictures the README shows:

docs/panel.png             listening with this user's auto token, two clients connected
docs/panel-test.png        the Test button's steps, from a client in a separate process
docs/panel-port-taken.png  Apply refused: the port is another hrpyc session's, the next free one offered

QT_QPA_PLATFORM=offscreen python docs/render_panel.py
"""

import os
import re
import select
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIBS = os.path.join(os.path.dirname(HERE), "python3.7libs")
sys.path.insert(0, LIBS)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HRPYC_STATE_DIR", tempfile.mkdtemp())

from Qt import QtWidgets  # noqa: E402

import hrpyc  # noqa: E402
import hrpyc._panel  # noqa: E402

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
PORT = 18811


def main():
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    window = hrpyc._panel.create_widget()
    window.controller._confirm = lambda question: True  # the pictures answer Yes
    window.resize(780, 700)
    window.show()
    window.port_edit.setText(str(PORT))
    window.credential_choice.setCurrentIndex(window.credential_choice.findData("auto"))
    window.controller.start()
    server = hrpyc.running_server()
    children = []
    try:
        for calls in (42, 7):
            children.append(_client(app, server.address, calls))
        _run(app, 1.5)
        window.clients.selectRow(0)
        window.controller._refresh()
        _save(window, "panel.png")

        window.test_button.click()
        _run(app, 15, until=lambda: not window.controller._test.running())
        _save(window, "panel-test.png")

        other = subprocess.Popen(
            [sys.executable, "-m", "hrpyc", "serve", "--port", str(PORT + 1)],
            stdout=subprocess.PIPE,
            env=dict(os.environ, PYTHONPATH=LIBS),
            text=True,
        )
        children.append(other)
        assert re.search(r"serving on", other.stdout.readline())
        window.port_edit.setText(str(PORT + 1))
        window.apply_button.click()
        _run(app, 0.5)
        _save(window, "panel-port-taken.png")
    finally:
        for child in children:
            child.kill()
            child.wait()
        hrpyc.stop_server()


def _client(app, address, calls):
    """A client process; its calls are answered on this Qt thread, so the loop runs meanwhile."""
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, address[0], str(address[1]), LIBS, str(calls)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    while not select.select([client.stdout], [], [], 0.01)[0]:
        app.processEvents()
    assert client.stdout.readline().strip() == "ok"
    return client


def _run(app, seconds, until=lambda: False):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        app.processEvents()
        time.sleep(0.02)


def _save(window, name):
    path = os.path.join(HERE, name)
    window.grab().save(path)
    print("hrpyc: wrote", path)


if __name__ == "__main__":
    main()
