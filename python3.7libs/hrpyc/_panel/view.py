"""Server side: the panel's widgets, and nothing else: no server, no events (the controller wires them)."""

from __future__ import annotations

from typing import Any, List, Tuple

from hrpyc._panel.model import CREDENTIAL_CHOICES, HOST_CHOICES
from hrpyc._panel.qt import QtCore, QtGui, QtWidgets

COLOURS = {"listening": "#2e7d32", "error": "#c62828", "stopped": "#616161"}
CLIENT_COLUMNS = ("Client", "Connected since", "Requests", "Last activity")
TEST_COLUMNS = ("Step", "Result", "Time", "Detail")
RESULT_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "skipped": "#616161", "running": "#616161"}
FLASH_MS = 1500  # how long a copy button says "Copied"
LOG_LINES = 6  # lines of the event log always shown: the client table gives up room first


class PanelView(QtWidgets.QWidget):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("hrpyc - RPC Server")
        self.setObjectName("hrpycPanel")

        self.status = QtWidgets.QLabel("Stopped")
        self.status.setWordWrap(True)
        self.status.setObjectName("status")
        self.note = QtWidgets.QLabel("")
        self.note.setWordWrap(True)
        self.note.setVisible(False)

        self.host_choice = QtWidgets.QComboBox()
        for label, value in HOST_CHOICES:
            self.host_choice.addItem(label, value)
        self.host_edit = QtWidgets.QLineEdit()
        self.host_edit.setPlaceholderText("192.168.1.20")
        self.port_edit = QtWidgets.QLineEdit("18811")
        self.port_edit.setMaximumWidth(90)
        self.problem = QtWidgets.QLabel("")
        self.problem.setStyleSheet("color: #c62828;")
        self.problem.setWordWrap(True)
        self.free_port_button = QtWidgets.QPushButton("")
        self.free_port_button.setVisible(False)

        self.credential_choice = QtWidgets.QComboBox()
        for label, value in CREDENTIAL_CHOICES:
            self.credential_choice.addItem(label, value)
        self.token_edit = QtWidgets.QLineEdit()  # a token you type
        self.token_edit.setEchoMode(QtWidgets.QLineEdit.Password)
        self.token_edit.setPlaceholderText("the token clients will show")
        self.auto_token = QtWidgets.QLineEdit()  # this user's auto token, hidden until shown
        self.auto_token.setReadOnly(True)
        self.auto_token.setEchoMode(QtWidgets.QLineEdit.Password)
        self.show_token_button = QtWidgets.QPushButton("Show")
        self.show_token_button.setCheckable(True)
        self.copy_token_button = QtWidgets.QPushButton("Copy")
        self.rotate_token_button = QtWidgets.QPushButton("Rotate...")
        self.tls = QtWidgets.QLabel("")
        self.tls.setWordWrap(True)
        self.info = QtWidgets.QLabel("")  # what an action did, such as a token rotated
        self.info.setWordWrap(True)
        self.info.setVisible(False)

        self.start_button = QtWidgets.QPushButton("Start")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.apply_button = QtWidgets.QPushButton("Apply")
        self.snippet_button = QtWidgets.QPushButton("Copy connection snippet")
        self.test_button = QtWidgets.QPushButton("Test")
        self.test_button.setToolTip("connect from a separate process and check each part of the path")
        self.test_steps = QtWidgets.QTableWidget(0, len(TEST_COLUMNS))
        self.test_steps.setHorizontalHeaderLabels(TEST_COLUMNS)
        _stretch(self.test_steps, TEST_COLUMNS.index("Detail"))
        self.test_steps.verticalHeader().setVisible(False)
        self.test_steps.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)  # compact rows
        self.test_steps.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.test_steps.setSelectionMode(QtWidgets.QAbstractItemView.NoSelection)
        self.test_steps.setVisible(False)

        self.clients = QtWidgets.QTableWidget(0, len(CLIENT_COLUMNS))
        self.clients.setHorizontalHeaderLabels(CLIENT_COLUMNS)
        _stretch(self.clients, CLIENT_COLUMNS.index("Client"))
        self.clients.verticalHeader().setVisible(False)
        self.clients.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.clients.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.clients.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.disconnect_button = QtWidgets.QPushButton("Disconnect")

        self.log = QtWidgets.QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(300)
        self.log.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont))
        margins = self.log.contentsMargins().top() + self.log.contentsMargins().bottom()
        self.log.setMinimumHeight(
            QtGui.QFontMetrics(self.log.font()).lineSpacing() * LOG_LINES
            + 2 * (self.log.document().documentMargin() + self.log.frameWidth())
            + margins
        )
        self.copy_log_button = QtWidgets.QPushButton("Copy log")

        address = QtWidgets.QHBoxLayout()
        address.addWidget(QtWidgets.QLabel("Host"))
        address.addWidget(self.host_choice)
        address.addWidget(self.host_edit, 1)
        address.addWidget(QtWidgets.QLabel("Port"))
        address.addWidget(self.port_edit)
        credential = QtWidgets.QGridLayout()
        credential.addWidget(QtWidgets.QLabel("Credential"), 0, 0)
        credential.addWidget(self.credential_choice, 0, 1)
        credential.addWidget(self.token_edit, 0, 2, 1, 4)
        credential.addWidget(self.auto_token, 0, 2)
        credential.addWidget(self.show_token_button, 0, 3)
        credential.addWidget(self.copy_token_button, 0, 4)
        credential.addWidget(self.rotate_token_button, 0, 5)
        credential.addWidget(self.tls, 1, 1, 1, 5)
        credential.setColumnStretch(2, 1)
        problems = QtWidgets.QHBoxLayout()
        problems.addWidget(self.problem, 1)
        problems.addWidget(self.free_port_button)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.apply_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.snippet_button)
        client_buttons = QtWidgets.QHBoxLayout()
        client_buttons.addStretch(1)
        client_buttons.addWidget(self.disconnect_button)
        log_buttons = QtWidgets.QHBoxLayout()
        log_buttons.addStretch(1)
        log_buttons.addWidget(self.copy_log_button)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.note)
        layout.addLayout(address)
        layout.addLayout(credential)
        layout.addLayout(problems)
        layout.addWidget(self.info)
        layout.addLayout(buttons)
        layout.addWidget(self.test_steps)
        layout.addWidget(QtWidgets.QLabel("Connected clients"))
        layout.addWidget(self.clients, 2)
        layout.addLayout(client_buttons)
        layout.addWidget(QtWidgets.QLabel("Events"))
        layout.addWidget(self.log, 1)
        layout.addLayout(log_buttons)

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
