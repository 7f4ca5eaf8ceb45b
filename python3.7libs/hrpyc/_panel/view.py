"""Server side: the panel's widgets, and nothing else: no server, no events (the controller wires them)."""

from __future__ import annotations

from typing import Any, List, Tuple

from hrpyc._common.config import DEFAULT_PORT
from hrpyc._panel.model import CREDENTIAL_CHOICES, HOST_CHOICES
from hrpyc._panel.qt import QtCore, QtGui, QtWidgets

COLOURS = {"listening": "#2e7d32", "error": "#c62828", "stopped": "#616161"}
CLIENT_COLUMNS = ("Client", "Connected since", "Requests", "Last activity")
TEST_COLUMNS = ("Step", "Result", "Time", "Detail")
RESULT_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "skipped": "#616161", "running": "#616161"}
FLASH_MS = 1500  # how long a copy button says "Copied"
LOG_LINES = 6  # lines of the event log always shown: the client table gives up room first
LOG_KEPT = 300  # lines of the event log kept: older ones go


class PanelView(QtWidgets.QWidget):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("hrpyc - RPC Server")
        self.setObjectName("hrpycPanel")
        self.status = QtWidgets.QLabel("Stopped")
        self.status.setWordWrap(True)
        self.status.setObjectName("status")
        self.note = _message()  # why settings are not remembered, or that the environment decides them
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.note)
        _add_address(self, layout)
        _add_credential(self, layout)
        _add_problem(self, layout)
        self.info = _message()  # what an action did, such as a token rotated
        layout.addWidget(self.info)
        _add_actions(self, layout)
        _add_clients(self, layout)
        _add_log(self, layout)

    def show_status(self, state: str, text: str) -> None:
        self.status.setText(text)
        self.status.setProperty("state", state)
        self.status.setStyleSheet(
            "QLabel {{ color: white; background: {}; padding: 6px; border-radius: 3px; font-weight: bold; }}".format(
                COLOURS[state]
            )
        )

    def show_clients(self, rows: List[Tuple[int, str, str, str, str]]) -> None:
        """rows: (client id, address, since, requests, last activity); keeps the selected client selected."""
        selected = self.selected_client()
        self.clients.blockSignals(True)  # a rebuild is not the user changing the selection
        try:
            self.clients.clearSelection()
            self.clients.setRowCount(len(rows))
            for row, (client_id, *cells) in enumerate(rows):
                for column, text in enumerate(cells):
                    item = QtWidgets.QTableWidgetItem(text)
                    item.setData(QtCore.Qt.UserRole, client_id)
                    self.clients.setItem(row, column, item)
                if client_id == selected:
                    self.clients.selectRow(row)
        finally:
            self.clients.blockSignals(False)

    def selected_client(self) -> Any:
        items = self.clients.selectedItems()
        return items[0].data(QtCore.Qt.UserRole) if items else None

    def show_credential(self, choice: str) -> None:
        """The fields of the chosen credential: a token to type, or the auto token's controls."""
        self.token_edit.setVisible(choice == "typed")
        for widget in (self.auto_token, self.show_token_button, self.copy_token_button, self.rotate_token_button):
            widget.setVisible(choice == "auto")

    def show_token(self, shown: bool, token: str) -> None:
        """The auto token, shown whole (the field widens to it) or hidden."""
        self.auto_token.setEchoMode(QtWidgets.QLineEdit.Normal if shown else QtWidgets.QLineEdit.Password)
        self.auto_token.setText(token)
        self.show_token_button.setText("Hide" if shown else "Show")
        self.auto_token.setMinimumWidth(_text_width(self.auto_token, token) if shown and token else 0)

    def say(self, label: Any, text: str) -> None:
        """`text` on `label` (the note, the info line), which is hidden while it has none."""
        label.setText(text)
        label.setVisible(bool(text))

    def offer_port(self, port: Any) -> None:
        """A button that puts the next free port in the Port field; hidden when `port` is None."""
        self.free_port_button.setVisible(port is not None)
        self.free_port_button.setText("Use port {}".format(port) if port is not None else "")
        self.free_port_button.setProperty("port", port)

    def flash(self, button: Any, text: str = "Copied") -> None:
        """Say `text` on `button` for a moment: the copy happened."""
        label = button.property("label") or button.text()
        button.setProperty("label", label)
        button.setText(text)
        timer = QtCore.QTimer(button)  # the button's child: gone with it, never firing on a deleted one
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: button.setText(label))
        timer.timeout.connect(timer.deleteLater)
        timer.start(FLASH_MS)

    def show_test(self, rows: List[Tuple[str, str, str, str]]) -> None:
        """The self-test's steps: (step, result, time, detail); result is passed, failed, skipped or running.
        No rows: hidden (the server they tested is gone)."""
        self.test_steps.setVisible(bool(rows))
        self.test_steps.setRowCount(len(rows))
        for row, cells in enumerate(rows):
            for column, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if column == 1:
                    item.setForeground(QtGui.QBrush(QtGui.QColor(RESULT_COLOURS.get(text, "#000000"))))
                self.test_steps.setItem(row, column, item)
        height = self.test_steps.horizontalHeader().height() + sum(
            self.test_steps.rowHeight(row) for row in range(len(rows))
        )
        self.test_steps.setFixedHeight(height + 2 * self.test_steps.frameWidth())


def _add_address(view: PanelView, layout: Any) -> None:
    """Host and port."""
    view.host_choice = QtWidgets.QComboBox()
    for label, value in HOST_CHOICES:
        view.host_choice.addItem(label, value)
    view.host_edit = QtWidgets.QLineEdit()
    view.host_edit.setPlaceholderText("192.168.1.20")
    view.port_edit = QtWidgets.QLineEdit(str(DEFAULT_PORT))
    view.port_edit.setMaximumWidth(90)
    address = QtWidgets.QHBoxLayout()
    address.addWidget(QtWidgets.QLabel("Host"))
    address.addWidget(view.host_choice)
    address.addWidget(view.host_edit, 1)
    address.addWidget(QtWidgets.QLabel("Port"))
    address.addWidget(view.port_edit)
    layout.addLayout(address)


def _add_credential(view: PanelView, layout: Any) -> None:
    """The credential: none, this user's auto token (Show, Copy, Rotate), or a typed one; TLS as set."""
    view.credential_choice = QtWidgets.QComboBox()
    for label, value in CREDENTIAL_CHOICES:
        view.credential_choice.addItem(label, value)
    view.token_edit = QtWidgets.QLineEdit()  # a token you type
    view.token_edit.setEchoMode(QtWidgets.QLineEdit.Password)
    view.token_edit.setPlaceholderText("the token clients will show")
    view.auto_token = QtWidgets.QLineEdit()  # this user's auto token, hidden until shown
    view.auto_token.setReadOnly(True)
    view.auto_token.setEchoMode(QtWidgets.QLineEdit.Password)
    view.show_token_button = QtWidgets.QPushButton("Show")
    view.show_token_button.setCheckable(True)
    view.copy_token_button = QtWidgets.QPushButton("Copy")
    view.rotate_token_button = QtWidgets.QPushButton("Rotate...")
    view.tls = QtWidgets.QLabel("")
    view.tls.setWordWrap(True)
    credential = QtWidgets.QGridLayout()
    credential.addWidget(QtWidgets.QLabel("Credential"), 0, 0)
    credential.addWidget(view.credential_choice, 0, 1)
    credential.addWidget(view.token_edit, 0, 2, 1, 4)
    credential.addWidget(view.auto_token, 0, 2)
    credential.addWidget(view.show_token_button, 0, 3)
    credential.addWidget(view.copy_token_button, 0, 4)
    credential.addWidget(view.rotate_token_button, 0, 5)
    credential.addWidget(view.tls, 1, 1, 1, 5)
    credential.setColumnStretch(2, 1)
    layout.addLayout(credential)


def _add_problem(view: PanelView, layout: Any) -> None:
    """What is wrong with the fields, naming the field, and a free port to take instead of a taken one."""
    view.problem = QtWidgets.QLabel("")
    view.problem.setStyleSheet("color: #c62828;")
    view.problem.setWordWrap(True)
    view.free_port_button = QtWidgets.QPushButton("")
    view.free_port_button.setVisible(False)
    problem = QtWidgets.QHBoxLayout()
    problem.addWidget(view.problem, 1)
    problem.addWidget(view.free_port_button)
    layout.addLayout(problem)


def _add_actions(view: PanelView, layout: Any) -> None:
    """Start, Stop, Apply, Test (and the self-test's steps under them), the connection snippet."""
    view.start_button = QtWidgets.QPushButton("Start")
    view.stop_button = QtWidgets.QPushButton("Stop")
    view.apply_button = QtWidgets.QPushButton("Apply")
    view.snippet_button = QtWidgets.QPushButton("Copy connection snippet")
    view.test_button = QtWidgets.QPushButton("Test")
    view.test_button.setToolTip("connect from a separate process and check each part of the path")
    view.test_steps = QtWidgets.QTableWidget(0, len(TEST_COLUMNS))
    view.test_steps.setHorizontalHeaderLabels(TEST_COLUMNS)
    _stretch(view.test_steps, TEST_COLUMNS.index("Detail"))
    view.test_steps.verticalHeader().setVisible(False)
    view.test_steps.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)  # compact rows
    view.test_steps.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
    view.test_steps.setSelectionMode(QtWidgets.QAbstractItemView.NoSelection)
    view.test_steps.setVisible(False)
    buttons = QtWidgets.QHBoxLayout()
    for button in (view.start_button, view.stop_button, view.apply_button, view.test_button):
        buttons.addWidget(button)
    buttons.addStretch(1)
    buttons.addWidget(view.snippet_button)
    layout.addLayout(buttons)
    layout.addWidget(view.test_steps)


def _add_clients(view: PanelView, layout: Any) -> None:
    """The connected clients' table, and Disconnect for the one selected."""
    view.clients = QtWidgets.QTableWidget(0, len(CLIENT_COLUMNS))
    view.clients.setHorizontalHeaderLabels(CLIENT_COLUMNS)
    _stretch(view.clients, CLIENT_COLUMNS.index("Client"))
    view.clients.verticalHeader().setVisible(False)
    view.clients.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
    view.clients.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
    view.clients.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
    view.disconnect_button = QtWidgets.QPushButton("Disconnect")
    layout.addWidget(QtWidgets.QLabel("Connected clients"))
    layout.addWidget(view.clients, 2)
    layout.addLayout(_right(view.disconnect_button))


def _add_log(view: PanelView, layout: Any) -> None:
    """The server's events, a line each, at least LOG_LINES of them in view, and Copy log."""
    view.log = QtWidgets.QPlainTextEdit()
    view.log.setReadOnly(True)
    view.log.setMaximumBlockCount(LOG_KEPT)
    view.log.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont))
    margins = view.log.contentsMargins().top() + view.log.contentsMargins().bottom()
    view.log.setMinimumHeight(
        QtGui.QFontMetrics(view.log.font()).lineSpacing() * LOG_LINES
        + 2 * (view.log.document().documentMargin() + view.log.frameWidth())
        + margins
    )
    view.copy_log_button = QtWidgets.QPushButton("Copy log")
    layout.addWidget(QtWidgets.QLabel("Events"))
    layout.addWidget(view.log, 1)
    layout.addLayout(_right(view.copy_log_button))


def _message() -> Any:
    """A line that says something only now and then: hidden until it does (PanelView.say)."""
    label = QtWidgets.QLabel("")
    label.setWordWrap(True)
    label.setVisible(False)
    return label


def _right(button: Any) -> Any:
    """A row holding `button` at its right end."""
    row = QtWidgets.QHBoxLayout()
    row.addStretch(1)
    row.addWidget(button)
    return row


def _stretch(table: Any, column: int) -> None:
    """`column` takes the table's spare width; the others fit their contents."""
    header = table.horizontalHeader()
    for index in range(table.columnCount()):
        mode = QtWidgets.QHeaderView.Stretch if index == column else QtWidgets.QHeaderView.ResizeToContents
        header.setSectionResizeMode(index, mode)


def _text_width(field: Any, text: str) -> int:
    """How wide a line edit must be to show `text` whole: the text, the frame, the margins Qt keeps."""
    metrics = field.fontMetrics()
    advance = metrics.horizontalAdvance(text) if hasattr(metrics, "horizontalAdvance") else metrics.width(text)
    margins = field.textMargins()
    return (
        advance
        + margins.left()
        + margins.right()
        + 2 * field.style().pixelMetric(QtWidgets.QStyle.PM_DefaultFrameWidth)
        + 8
    )  # QLineEdit's own horizontal margin, 2 px each side, and a cursor's room
