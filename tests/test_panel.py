"""The panel a TD opens in Houdini: status, start/stop, host and port, live clients, events, snippet."""

import json
import os
import subprocess
import sys

import pytest
from conftest import child_env, free_port, need

import hrpyc

need("Qt", "the panel's tests need Qt.py and a Qt binding (CI installs them)")

from hrpyc import panel  # noqa: E402 (needs Qt)
from hrpyc.panel.model import Settings  # noqa: E402


@pytest.fixture
def view(qtbot):
    widget = panel.create_widget()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def client_process(address, **env):
    """A real client in its own process, connected until its stdin closes."""
    script = (
        "import hrpyc, sys\n"
        "conn = hrpyc.connect(sys.argv[1], int(sys.argv[2]))\n"
        "print('ok', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, address[0], str(address[1])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(**env),
    )
    assert proc.stdout.readline().strip() == "ok"
    return proc


def test_start_and_stop_from_the_panel(view, qtbot):
    assert view.status.property("state") == "stopped"
    view.port_edit.setText("0")
    qtbot.mouseClick(view.start_button, qtbot_left())
    server = hrpyc.running_server()
    assert server is not None and server.is_alive()
    assert view.status.property("state") == "listening"
    assert "127.0.0.1:{}".format(server.address[1]) in view.status.text()
    assert "this machine only" in view.status.text() and "no credential" in view.status.text()
    assert view.port_edit.text() == str(server.address[1])
    qtbot.mouseClick(view.stop_button, qtbot_left())
    assert hrpyc.running_server() is None and view.status.property("state") == "stopped"


def qtbot_left():
    from hrpyc.panel.qt import QtCore

    return QtCore.Qt.LeftButton


def test_a_taken_port_shows_the_reason(view, qtbot):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        view.port_edit.setText(str(taken.getsockname()[1]))
        qtbot.mouseClick(view.start_button, qtbot_left())
    assert view.status.property("state") == "error"
    assert "already in use" in view.status.text()
    assert "error" in view.log.toPlainText()


@pytest.mark.parametrize(
    "host, port, says",
    [
        ("", "18811", "Enter an address"),
        ("not a host!", "18811", "neither an IP address"),
        ("10.1.2.3", "port", "must be a number"),
        ("10.1.2.3", "70000", "at most 65535"),
    ],
)
def test_bad_host_or_port_is_explained_as_you_type_and_start_is_disabled(view, host, port, says):
    view.host_choice.setCurrentIndex(2)  # "An address..."
    view.host_edit.setText(host)
    view.port_edit.setText(port)
    assert says in view.problem.text()
    assert not view.start_button.isEnabled()
    view.host_edit.setText("127.0.0.1")
    view.port_edit.setText("18811")
    assert view.problem.text() == "" and view.start_button.isEnabled()


def test_clients_appear_and_disappear_within_a_second_and_can_be_disconnected(view, qtbot):
    view.port_edit.setText("0")
    view.start_button.click()
    address = hrpyc.running_server().address
    first, second = client_process(address), client_process(address)
    qtbot.waitUntil(lambda: view.clients.rowCount() == 2, timeout=1000)
    first.stdin.close()
    qtbot.waitUntil(lambda: first.poll() is not None, timeout=10000)  # keeps Qt's loop running meanwhile
    qtbot.waitUntil(lambda: view.clients.rowCount() == 1, timeout=1000)
    view.clients.selectRow(0)
    assert view.disconnect_button.isEnabled()
    view.disconnect_button.click()
    qtbot.waitUntil(lambda: view.clients.rowCount() == 0, timeout=1000)
    log = view.log.toPlainText()
    assert log.count("connected") >= 2 and "disconnected" in log
    second.kill()
    second.wait()


def test_changing_the_port_while_running_restarts_after_confirmation(qtbot):
    answers = []
    widget = panel.view.PanelView()
    qtbot.addWidget(widget)
    controller = panel.controller.PanelController(widget, confirm=lambda question: answers.pop(0))
    widget.port_edit.setText("0")
    controller.start()
    old = hrpyc.running_server()
    new_port = free_port()
    widget.port_edit.setText(str(new_port))
    assert widget.apply_button.isEnabled()
    answers.append(False)
    widget.apply_button.click()
    assert hrpyc.running_server() is old  # declined: nothing changed
    answers.append(True)
    widget.apply_button.click()
    assert hrpyc.running_server().address == ("127.0.0.1", new_port) and not old.is_alive()


def test_the_snippet_and_the_log_are_copied_without_the_secret(view, qtbot):
    from hrpyc.panel.qt import QtWidgets

    hrpyc.start_server(port=0, token="never-shown")
    qtbot.waitUntil(lambda: view.status.property("state") == "listening", timeout=1000)
    assert "token required" in view.status.text()
    view.snippet_button.click()
    text = QtWidgets.QApplication.clipboard().text()
    port = hrpyc.running_server().address[1]
    assert "import_remote_module('127.0.0.1', {}, token=TOKEN)".format(port) in text
    assert "never-shown" not in text
    compile(text, "snippet", "exec")  # it pastes as valid Python
    view.copy_log_button.click()
    assert "started" in QtWidgets.QApplication.clipboard().text()


def test_settings_are_remembered_and_the_environment_wins(qtbot, monkeypatch):
    remembered = Settings()
    remembered.host, remembered.port, remembered.running = "127.0.0.1", free_port(), False
    remembered.save()
    widget = panel.create_widget()
    qtbot.addWidget(widget)
    assert widget.port_edit.text() == str(remembered.port) and not widget.note.isVisible()
    monkeypatch.setenv("HRPYC_AUTOSTART", "1")
    monkeypatch.setenv("HRPYC_PORT", "18999")
    from_env = panel.create_widget()
    qtbot.addWidget(from_env)
    from_env.show()
    assert from_env.port_edit.text() == "18999"
    assert from_env.note.isVisible() and "environment" in from_env.note.text()


@pytest.mark.parametrize("off", ["0", "false", "no", "off", " Off "])
def test_autostart_switched_off_leaves_the_panel_its_remembered_settings(qtbot, monkeypatch, off):
    """HRPYC_AUTOSTART=0 means off, for the panel as for autostart and Houdini's hooks."""
    remembered = Settings()
    remembered.host, remembered.port, remembered.running = "127.0.0.1", free_port(), False
    remembered.save()
    monkeypatch.setenv("HRPYC_AUTOSTART", off)
    monkeypatch.setenv("HRPYC_PORT", "18999")
    widget = panel.create_widget()
    qtbot.addWidget(widget)
    widget.show()
    assert widget.port_edit.text() == str(remembered.port) and not widget.note.isVisible()


def test_a_server_that_was_running_starts_again_when_the_panel_opens(qtbot):
    remembered = Settings()
    remembered.port, remembered.running = free_port(), True
    remembered.save()
    widget = panel.create_widget()
    qtbot.addWidget(widget)
    assert hrpyc.running_server().address == ("127.0.0.1", remembered.port)


def test_closing_the_panel_keeps_the_server_and_every_panel_shows_it(qtbot):
    server = hrpyc.start_server(port=0)  # from code, as autostart does
    first = panel.create_widget()
    second = panel.create_widget()
    qtbot.addWidget(second)
    for widget in (first, second):
        assert widget.status.property("state") == "listening"
    first.close()
    first.deleteLater()
    qtbot.wait(10)
    assert server.is_alive()
    client = hrpyc.connect(*server.address)  # kept: collected, it would leave while we count it
    qtbot.waitUntil(lambda: second.clients.rowCount() == 1, timeout=1000)
    reopened = panel.create_widget()
    qtbot.addWidget(reopened)
    assert reopened.clients.rowCount() == 1 and reopened.status.property("state") == "listening"
    client.close()


def test_hrpyc_panel_opens_outside_houdini_serving_that_python(tmp_path):
    port = free_port()
    state = os.environ["HRPYC_STATE_DIR"]
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(state, "panel.json"), "w") as handle:
        json.dump({"host": "127.0.0.1", "port": port, "running": True}, handle)
    proc = subprocess.Popen([sys.executable, "-m", "hrpyc", "panel"], env=child_env(QT_QPA_PLATFORM="offscreen"))
    try:
        import time

        deadline = time.monotonic() + 20
        while True:
            try:
                conn = hrpyc.connect("127.0.0.1", port, timeout=5)
                break
            except hrpyc.ServerNotFoundError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert conn.server_info["dispatch"] == "qt"
        assert conn.modules.threading.current_thread().name == "MainThread"
    finally:
        proc.kill()
        proc.wait()


def test_hrpyc_and_its_server_need_no_qt():
    script = (
        "import sys\n"
        "for name in ('PySide2', 'PySide6', 'Qt', 'PyQt5'):\n"
        "    sys.modules[name] = None\n"
        "import hrpyc\n"
        "server = hrpyc.start_server(port=0)\n"
        "assert hrpyc.connect(*server.address).modules.os.getpid()\n"
        "from hrpyc import cli\n"
        "sys.exit(cli.main(['panel']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=child_env())
    assert result.returncode == 1
    assert result.stderr.startswith("hrpyc: the hrpyc panel needs Qt.py") and "pip install" in result.stderr
