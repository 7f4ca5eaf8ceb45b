"""The panel a TD opens in Houdini: status, start/stop, host and port, live clients, events, snippet."""

import importlib.util
import json
import os
import socket
import struct
import subprocess
import sys

import pytest
from conftest import child_env, ctrl_c_able, free_port, need, send_ctrl_c

import hrpyc
from hrpyc._auth import tokens
from hrpyc._server import refusals

need("Qt", "the panel's tests need Qt.py and a Qt binding (CI installs them)")

from hrpyc import _panel as panel  # noqa: E402 (needs Qt)
from hrpyc._panel import model  # noqa: E402
from hrpyc._panel.model import Settings  # noqa: E402


@pytest.fixture
def view(qtbot):
    widget = panel.create_widget()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def client_process(address, then="sys.stdin.read()\n", **env):
    """A real client in its own process, connected until its stdin closes; `then`: what it does
    once connected."""
    script = "import hrpyc, sys\nconn = hrpyc.connect(sys.argv[1], int(sys.argv[2]))\nprint('ok', flush=True)\n" + then
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
    from hrpyc._panel.qt import QtCore

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
    from hrpyc._panel.qt import QtWidgets

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


def test_a_flood_of_refusals_reaches_the_log_summed_up_not_a_line_each(view, qtbot, monkeypatch):
    """One attack posted 87,275 `refused` events to the panel, a line each, burying the rest of its log."""
    import time

    monkeypatch.setattr(refusals.RefusalLog, "WINDOW", 1.0)
    server = hrpyc.start_server(port=0, token="flood-token")
    started = time.monotonic()
    for _ in range(60):  # stock clients without the token: each refused
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(struct.pack("!LB", 1, 0) + b"x\n")
            try:
                sock.recv(1)
            except OSError:
                pass

    def refused():
        lines = [line.split(" - ", 1)[1] for line in view.log.toPlainText().splitlines() if " refused " in line]
        return len(lines), sum(int(line.split()[0]) if " more connections (" in line else 1 for line in lines)

    qtbot.waitUntil(lambda: refused()[1] == 60, timeout=5000)
    assert refused()[0] <= 2 * (1 + time.monotonic() - started)  # the first of a second at once, then a sum


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
        "from hrpyc._cli.main import main\n"
        "sys.exit(main(['panel']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=child_env())
    assert result.returncode == 1
    assert result.stderr.startswith("hrpyc: the hrpyc panel needs Qt.py") and "pip install" in result.stderr


# --- issue 15: credential, Apply that binds first, taken ports, Test, per-version settings, Ctrl-C


def caller_process(address, **env):
    """A real client in its own process that makes a call for every line on its stdin."""
    return client_process(address, then="for _ in sys.stdin:\n    print(conn.modules.os.getpid(), flush=True)\n", **env)


def answers(proc):
    """Does the client's connection still answer a call?"""
    proc.stdin.write("call\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip() == str(os.getpid())


def choose(combo, value):
    combo.setCurrentIndex(combo.findData(value))


def test_the_auto_token_is_shown_copied_and_required(view, qtbot):
    from hrpyc._panel.qt import QtWidgets

    choose(view.credential_choice, "auto")
    view.port_edit.setText("0")
    view.start_button.click()
    server = hrpyc.running_server()
    assert server.credential == "token" and "token required" in view.status.text()
    token = tokens.auto_token(create=False)
    assert token and token not in view.auto_token.displayText()  # hidden until shown
    view.show_token_button.click()
    assert view.auto_token.displayText() == token
    view.copy_token_button.click()
    assert QtWidgets.QApplication.clipboard().text() == token
    assert view.copy_token_button.text() == "Copied"
    qtbot.waitUntil(lambda: view.copy_token_button.text() == "Copy", timeout=3000)
    view.snippet_button.click()
    assert view.snippet_button.text() == "Copied"
    with pytest.raises(hrpyc.AuthenticationError):
        hrpyc.connect(*server.address, token="not-the-token")
    hrpyc.connect(*server.address).close()  # this user, this machine: the client finds the auto token


@pytest.mark.parametrize(
    "typed, says",
    [("", "Token: type the token"), ("short", "at least 8"), (" padded-token ", "spaces"), ("auto", "auto token")],
)
def test_a_typed_token_is_checked_as_you_type(view, typed, says):
    choose(view.credential_choice, "typed")
    view.token_edit.setText(typed)
    assert view.problem.text().startswith("Token:") and says in view.problem.text()
    assert not view.start_button.isEnabled()
    view.token_edit.setText("a-shared-secret")
    assert view.problem.text() == "" and view.start_button.isEnabled()


@pytest.mark.parametrize(
    "token", ["abcde", "seven77", " padded-token ", "tab\there-token", "x" * 1025, "eight888", "a shared secret"]
)
def test_the_panel_and_the_api_follow_one_token_rule(token):
    """The panel's typed token, `token=` and `hrpyc serve --token` (test_cli) refuse the same tokens, saying
    the same, without the token."""
    from hrpyc._common import config

    panel_says = model.token_problem(model.TYPED_TOKEN, token)
    try:
        hrpyc.Server("127.0.0.1", 0, token=token).stop()
        api_says = None
    except hrpyc.ConfigError as exc:
        api_says = str(exc)
    rule = config.token_problem(token)
    assert (panel_says is None) == (api_says is None) == (rule is None)
    if rule is not None:
        assert api_says == "token= is not valid: " + rule and token.strip() not in api_says
        assert panel_says.lower().startswith("token: " + rule)


def test_all_interfaces_needs_a_credential_and_apply_names_the_field(qtbot):
    widget, controller = panel_with_answers(qtbot, [])
    widget.port_edit.setText("0")
    controller.start()
    choose(widget.host_choice, "0.0.0.0")
    assert widget.problem.text().startswith("Credential:") and "All interfaces" not in widget.problem.text()
    assert not widget.apply_button.isEnabled()
    assert "port=" not in widget.problem.text() and "allow_insecure" not in widget.problem.text()


def panel_with_answers(qtbot, answers_given):
    widget = panel.view.PanelView()
    qtbot.addWidget(widget)
    controller = panel.controller.PanelController(widget, confirm=lambda question: answers_given.pop(0))
    widget.show()
    return widget, controller


def test_a_refused_apply_leaves_the_running_server_and_its_clients_untouched(qtbot):
    import socket

    widget, controller = panel_with_answers(qtbot, [True, True])
    widget.port_edit.setText("0")
    controller.start()
    old = hrpyc.running_server()
    client = caller_process(old.address)
    qtbot.waitUntil(lambda: widget.clients.rowCount() == 1, timeout=2000)
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            widget.port_edit.setText(str(port))
            widget.apply_button.click()
            assert widget.problem.text().startswith("Port: {} is already in use by another program".format(port))
        assert hrpyc.running_server() is old and old.is_alive() and len(old.clients()) == 1
        assert answers(client)
        free = widget.free_port_button.property("port")
        assert widget.free_port_button.isVisible() and "port {} is free".format(free) in widget.problem.text()
        widget.free_port_button.click()
        assert widget.port_edit.text() == str(free) and widget.problem.text() == ""

        choose(widget.host_choice, "")
        widget.host_edit.setText("192.0.2.1")  # TEST-NET: no machine's address
        widget.port_edit.setText(str(old.address[1]))
        choose(widget.credential_choice, "auto")
        widget.apply_button.click()
        assert widget.problem.text().startswith("Host: 192.0.2.1 is not an address of this machine")
        assert hrpyc.running_server() is old and answers(client)
        assert widget.status.property("state") == "listening"
    finally:
        client.kill()
        client.wait()


def test_a_port_held_by_another_hrpyc_session_names_its_houdini_and_pid(view, gui_houdini):
    view.port_edit.setText(str(gui_houdini.port))
    view.start_button.click()
    assert view.status.property("state") == "error"
    assert "in use by hrpyc in Houdini 19.0.720 (pid {})".format(gui_houdini.proc.pid) in view.status.text()
    assert view.free_port_button.isVisible()


def test_changing_only_the_credential_swaps_the_server_on_the_same_port(qtbot):
    widget, controller = panel_with_answers(qtbot, [True])
    widget.port_edit.setText("0")
    controller.start()
    old = hrpyc.running_server()
    client = hrpyc.connect(*old.address)
    choose(widget.credential_choice, "typed")
    widget.token_edit.setText("a-shared-secret")
    assert widget.apply_button.isEnabled()
    widget.apply_button.click()
    new = hrpyc.running_server()
    assert new is not old and not old.is_alive() and new.address == old.address
    assert new.credential == "token" and "token required" in widget.status.text()
    with pytest.raises(hrpyc.ConnectionLostError):
        client.modules.os.getpid()  # its server was replaced: clients were told they would be disconnected
    hrpyc.connect(*new.address, token="a-shared-secret").close()
    assert not widget.apply_button.isEnabled()  # applied: nothing left to apply


def test_rotating_the_auto_token_restarts_the_server_with_the_new_one(qtbot):
    import stat

    widget, controller = panel_with_answers(qtbot, [True])
    choose(widget.credential_choice, "auto")
    widget.port_edit.setText("0")
    controller.start()
    old, before = hrpyc.running_server(), tokens.auto_token(create=False)
    widget.rotate_token_button.click()
    after = tokens.auto_token(create=False)
    assert after and after != before
    if os.name == "posix":  # a mode; Windows has ACLs, which st_mode does not show
        assert stat.S_IMODE(os.stat(tokens.auto_token_path()).st_mode) == 0o600
    new = hrpyc.running_server()
    assert new is not old and new.address == old.address and new.token_source == "auto"
    with pytest.raises(hrpyc.AuthenticationError):
        hrpyc.connect(*new.address, token=before)
    hrpyc.connect(*new.address).close()  # local clients of this user read the new one
    assert "clients on other machines" in widget.info.text()


def test_the_test_button_checks_each_step_from_a_separate_process_without_blocking(view, qtbot):
    import time

    choose(view.credential_choice, "typed")
    view.token_edit.setText("a-shared-secret")
    view.port_edit.setText("0")
    view.start_button.click()
    clicked = time.monotonic()
    view.test_button.click()
    assert time.monotonic() - clicked < 2 and not view.test_button.isEnabled()  # returned; the run goes on

    def results():
        return [view.test_steps.item(row, 1).text() for row in range(view.test_steps.rowCount())]

    assert "running" in results()
    qtbot.waitUntil(lambda: "running" not in results() and "not run" not in results(), timeout=5000)
    steps = [view.test_steps.item(row, 0).text() for row in range(view.test_steps.rowCount())]
    assert steps == ["connect", "round trip", "main thread", "time sync", "bulk lane"]
    details = {step: view.test_steps.item(row, 3).text() for row, step in enumerate(steps)}
    with_hou = "passed" if importlib.util.find_spec("hou") else "skipped"  # plain Python keeps no Houdini time
    assert results() == ["passed", "passed", "passed", with_hou, "passed"], details
    assert all(view.test_steps.item(row, 2).text().endswith(" ms") for row in range(5))
    assert "connection threads" in details["main thread"] and "MB/s" in details["bulk lane"]
    qtbot.waitUntil(view.test_button.isEnabled, timeout=2000)


def test_the_self_test_says_in_one_line_when_nothing_answers():
    result = subprocess.run(
        [sys.executable, "-m", "hrpyc._caller.selftest", "127.0.0.1", str(free_port())],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=30,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and len(lines) == 1
    assert lines[0]["step"] == "connect" and lines[0]["ok"] is False and "no hrpyc server" in lines[0]["detail"]


def test_each_houdini_version_keeps_its_own_settings(monkeypatch):
    import types

    first, second = Settings(release="21.0"), Settings(release="22.0")
    first.port, second.port = 18821, 18822
    first.save()
    second.save()
    assert Settings(release="21.0").port == 18821 and Settings(release="22.0").port == 18822
    hou = types.ModuleType("hou")
    hou.applicationVersion = lambda: (22, 0, 123)
    monkeypatch.setitem(sys.modules, "hou", hou)
    assert Settings().release == "22.0" and Settings().port == 18822
    monkeypatch.delitem(sys.modules, "hou")
    assert Settings().release == "python" and Settings().port != 18822


def test_ctrl_c_in_its_terminal_closes_hrpyc_panel():
    proc = subprocess.Popen(
        [sys.executable, "-m", "hrpyc", "panel"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **ctrl_c_able(child_env(QT_QPA_PLATFORM="offscreen")),  # as a terminal starts it
    )
    try:
        assert "Ctrl-C" in proc.stdout.readline()
        send_ctrl_c(proc)
        proc.wait(timeout=5)
        assert proc.returncode == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_token_from_the_environment_is_the_panels_typed_token(qtbot, monkeypatch):
    monkeypatch.setenv("HRPYC_TOKEN", "from-the-launcher")
    server = hrpyc.start_server(port=0)  # as autostart starts it
    widget = panel.create_widget()
    qtbot.addWidget(widget)
    assert widget.credential_choice.currentData() == "typed" and server.token_source == "given"
    assert widget.token_edit.text() == "from-the-launcher" and not widget.apply_button.isEnabled()
    assert widget.problem.text() == ""


def test_the_self_test_checks_the_main_thread_and_houdinis_time_in_a_houdini(gui_houdini):
    result = subprocess.run(
        [sys.executable, "-m", "hrpyc._caller.selftest", gui_houdini.host, str(gui_houdini.port)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=30,
    )
    steps = {line["step"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert result.returncode == 0, steps
    assert [step["ok"] for step in steps.values()] == [True] * 5
    assert "main thread (dispatch: main)" in steps["main thread"]["detail"]
    assert "then put back" in steps["time sync"]["detail"]


def test_the_event_log_shows_what_a_client_said_escaped():
    hostile = "\x1b[2J\r\nhrpyc: fake\u202e"
    client = hrpyc.ClientInfo(1, ("127.0.0.1", 5000), 0.0, 0, None, program=hostile, user=hostile, host="ws")
    event = hrpyc.ServerEvent("disconnected", ("127.0.0.1", 18811), client, message=hostile * 1000)
    line = model.event_line(event)
    assert line.isprintable() and len(line) < 1000 and "\\x1b[2J\\r\\nhrpyc: fake\\u202e" in line


# --- issue 25: the panel's rough edges


def test_the_snippet_names_the_token_the_server_was_given_and_auto_only_for_the_auto_token(qtbot):
    from hrpyc._panel.qt import QtWidgets

    widget, controller = panel_with_answers(qtbot, [True, True])
    widget.port_edit.setText("0")
    choose(widget.credential_choice, "typed")
    widget.token_edit.setText("a-shared-secret")
    controller.start()
    widget.snippet_button.click()
    typed = QtWidgets.QApplication.clipboard().text()
    assert "token=TOKEN" in typed and "typed token" in typed
    assert "auto" not in typed and "a-shared-secret" not in typed
    choose(widget.credential_choice, "auto")
    widget.apply_button.click()
    widget.snippet_button.click()
    auto = QtWidgets.QApplication.clipboard().text()
    port = hrpyc.running_server().address[1]
    assert "import_remote_module('127.0.0.1', {}, token='auto')".format(port) in auto
    compile(auto, "snippet", "exec")
    hrpyc.connect("127.0.0.1", port, token="auto").close()  # what the snippet does, minus the hou


def test_test_results_leave_the_log_its_lines_and_go_away_after_apply_or_stop(qtbot):
    widget, controller = panel_with_answers(qtbot, [True])
    widget.resize(720, 560)  # the floating panel's size
    widget.port_edit.setText("0")
    controller.start()

    def tested():
        widget.test_button.click()
        qtbot.waitUntil(lambda: widget.test_button.isEnabled(), timeout=10000)
        assert widget.test_steps.isVisible() and widget.test_steps.rowCount() == 5

    tested()
    qtbot.wait(10)  # the layout settles
    lines = widget.log.viewport().height() / widget.log.fontMetrics().lineSpacing()
    assert lines >= 6
    widget.port_edit.setText(str(free_port()))
    widget.apply_button.click()
    assert not widget.test_steps.isVisible()  # they were the old server's
    tested()
    widget.stop_button.click()
    assert not widget.test_steps.isVisible()


def test_using_the_free_port_offered_clears_the_taken_port_from_the_status(view):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        view.port_edit.setText(str(port))
        view.start_button.click()
        assert "{} is already in use".format(port) in view.status.text()
        view.free_port_button.click()
    assert view.status.property("state") == "stopped" and "in use" not in view.status.text()
    assert view.problem.text() == "" and view.start_button.isEnabled()


def test_a_mistyped_address_is_flagged_before_any_dialog_and_a_refused_one_is_not_remembered(qtbot):
    widget, controller = panel_with_answers(qtbot, [True])  # one answer: for the address that looks right
    widget.port_edit.setText("0")
    controller.start()
    port = hrpyc.running_server().address[1]
    choose(widget.host_choice, "")
    widget.host_edit.setText("192.168.1.999")
    assert widget.problem.text().startswith("Host: '192.168.1.999' is not an IP address")
    assert not widget.apply_button.isEnabled()
    widget.apply_button.click()  # disabled: no dialog (a second answer would be asked for, and fail)
    widget.host_edit.setText("192.0.2.1")  # well formed, but no address of this machine
    choose(widget.credential_choice, "auto")
    widget.apply_button.click()
    assert widget.problem.text().startswith("Host: 192.0.2.1 is not an address of this machine")
    remembered = Settings()  # what the running server took, not what it refused
    assert (remembered.host, remembered.port, remembered.credential, remembered.running) == (
        "127.0.0.1",
        port,
        "none",
        True,
    )


def test_the_shown_auto_token_fits_its_field(view):
    choose(view.credential_choice, "auto")
    view.show_token_button.click()
    token = view.auto_token.text()
    assert token == tokens.auto_token(create=False) and len(token) >= 43
    metrics = view.auto_token.fontMetrics()
    width = metrics.horizontalAdvance(token) if hasattr(metrics, "horizontalAdvance") else metrics.width(token)
    assert view.auto_token.width() >= width + 4  # the text, and the frame around it


def test_the_client_table_fills_its_width(view, qtbot):
    view.resize(900, 600)
    server = hrpyc.start_server(port=0)
    client = hrpyc.connect(*server.address)
    qtbot.waitUntil(lambda: view.clients.rowCount() == 1, timeout=2000)
    header = view.clients.horizontalHeader()
    filled = sum(header.sectionSize(column) for column in range(view.clients.columnCount()))
    assert abs(filled - view.clients.viewport().width()) <= 1
    client.close()
