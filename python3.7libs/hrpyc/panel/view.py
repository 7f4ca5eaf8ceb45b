"""Server side: the panel's widgets, and nothing else: no server, no events (the controller wires them)."""

from __future__ import annotations

from typing import Any, List, Tuple

from .model import HOST_CHOICES
from .qt import QtCore, QtGui, QtWidgets

COLOURS = {"listening": "#2e7d32", "error": "#c62828", "stopped": "#616161"}
CLIENT_COLUMNS = ("Client", "Connected since", "Requests", "Last activity")


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
        self.start_button = QtWidgets.QPushButton("Start")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.apply_button = QtWidgets.QPushButton("Apply")
        self.snippet_button = QtWidgets.QPushButton("Copy connection snippet")

        self.clients = QtWidgets.QTableWidget(0, len(CLIENT_COLUMNS))
        self.clients.setHorizontalHeaderLabels(CLIENT_COLUMNS)
        self.clients.horizontalHeader().setStretchLastSection(True)
        self.clients.verticalHeader().setVisible(False)
        self.clients.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.clients.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.clients.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.disconnect_button = QtWidgets.QPushButton("Disconnect")

        self.log = QtWidgets.QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(300)
        self.log.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont))
        self.copy_log_button = QtWidgets.QPushButton("Copy log")

        address = QtWidgets.QHBoxLayout()
        address.addWidget(QtWidgets.QLabel("Host"))
        address.addWidget(self.host_choice)
        address.addWidget(self.host_edit, 1)
        address.addWidget(QtWidgets.QLabel("Port"))
        address.addWidget(self.port_edit)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.apply_button):
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
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
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
        self.clients.resizeColumnsToContents()

    def selected_client(self) -> Any:
        items = self.clients.selectedItems()
        return items[0].data(QtCore.Qt.UserRole) if items else None
