"""Server side: the panel's address and credential fields, and the settings they are remembered in: filled
as the panel opens, read back as what they ask for, the auto token shown and copied.

Kept apart from the controller, which starts, stops and replaces the server with what these fields read.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Tuple

from hrpyc._auth import tokens
from hrpyc._common.address import same_address
from hrpyc._panel import model
from hrpyc._panel.qt import QtWidgets
from hrpyc._server.lifecycle import running_server
from hrpyc.errors import HrpycError


class Wanted(NamedTuple):
    """What the fields ask for: where to listen, and the credential (with the typed token, if any)."""

    host: str
    port: int
    credential: str
    token: str

    @property
    def server_token(self) -> str:
        """The server's `token=`: '' for none, so a credential the panel chose wins over HRPYC_TOKEN."""
        return {model.NO_TOKEN: "", model.AUTO_TOKEN: "auto"}.get(self.credential, self.token)


class Fields(object):
    """The fields of one panel: `edited()` runs after each change; `refuse(text)` when the auto token
    cannot be read (an unsafe per-user folder), to say so where the token would be."""

    def __init__(
        self, view: Any, settings: model.Settings, edited: Callable[..., None], refuse: Callable[[str], None]
    ) -> None:
        self.view = view
        self.settings = settings
        self.applied_token = ""  # the typed token the panel last started a server with
        self._edited = edited
        self._refuse = refuse
        self._fill()
        view.host_choice.currentIndexChanged.connect(self._on_host_choice)
        view.host_edit.textChanged.connect(edited)
        view.port_edit.textChanged.connect(edited)
        view.credential_choice.currentIndexChanged.connect(self._on_credential_choice)
        view.token_edit.textChanged.connect(edited)
        view.show_token_button.toggled.connect(self.show_token)
        view.copy_token_button.clicked.connect(self.copy_token)
        view.free_port_button.clicked.connect(self._use_free_port)

    def read(self) -> Tuple[Optional[Wanted], Optional[str]]:
        """(what the fields ask for, None), or (None, the problem, naming its field)."""
        view = self.view
        host = view.host_choice.currentData() or view.host_edit.text().strip()
        credential, token = view.credential_choice.currentData(), view.token_edit.text()
        problem = (
            (None if view.host_choice.currentData() else model.host_problem(host))
            or model.port_problem(view.port_edit.text())
            or model.token_problem(credential, token)
            or model.exposure_problem(host, credential)
        )
        return (None, problem) if problem else (Wanted(host, int(view.port_edit.text()), credential, token), None)

    def same(self, server: Any, wanted: Wanted) -> bool:
        """Would Apply change nothing? Same address, and the same credential (and typed token)."""
        if not same_address(server.address, wanted.host, wanted.port, resolve=False):  # each refresh: no lookup
            return False
        if model.server_credential(server) != wanted.credential:
            return False
        return wanted.credential != model.TYPED_TOKEN or wanted.token == self.applied_token

    def took(self, server: Any, wanted: Wanted) -> None:
        """`server` started as `wanted` asked: the port it bound shown (0 picks one), and remembered."""
        self.view.port_edit.setText(str(server.address[1]))
        self.applied_token = wanted.token if wanted.credential == model.TYPED_TOKEN else ""
        self.view.offer_port(None)
        # Only what a server took is remembered: a refused host or port is not worth starting again.
        self.settings.host, self.settings.port, self.settings.credential = (
            wanted.host,
            server.address[1],
            wanted.credential,
        )

    def remember(self, running: bool) -> None:
        self.settings.running = running
        self.settings.save()

    def copy_token(self) -> None:
        token = self._auto_token()
        if token:
            QtWidgets.QApplication.clipboard().setText(token)
            self.view.flash(self.view.copy_token_button)

    def show_token(self, shown: bool) -> None:
        """The auto token in its field, hidden until Show; created here if this user has none yet."""
        is_auto = self.view.credential_choice.currentData() == model.AUTO_TOKEN
        self.view.show_token(shown, self._auto_token() if is_auto and shown else "")
        self.view.auto_token.setPlaceholderText("hidden: Show or Copy it" if is_auto else "")

    def _auto_token(self) -> str:
        try:
            return tokens.auto_token() or ""
        except HrpycError as exc:  # an unsafe per-user folder: say so where the token would be
            self._refuse("Token: {}".format(exc))
            return ""

    def _on_host_choice(self, *_: Any) -> None:
        self.view.host_edit.setEnabled(not self.view.host_choice.currentData())
        self._edited()

    def _on_credential_choice(self, *_: Any) -> None:
        self.view.show_credential(self.view.credential_choice.currentData())
        self.show_token(self.view.show_token_button.isChecked())
        self._edited()

    def _use_free_port(self) -> None:
        port = self.view.free_port_button.property("port")
        if port is not None:
            self.view.port_edit.setText(str(port))

    def _fill(self) -> None:
        """From the running server, else the remembered settings; a note when those are not remembered, or
        the environment decides them."""
        view, settings, server = self.view, self.settings, running_server()
        if server is not None:
            (host, port), credential = server.address, model.server_credential(server)
        else:
            host, port, credential = settings.host, settings.port, settings.credential
        values = [value for _, value in model.HOST_CHOICES]
        view.host_choice.setCurrentIndex(values.index(host) if host in values else len(values) - 1)
        view.host_edit.setText("" if host in values else host)
        view.host_edit.setEnabled(host not in values)
        view.port_edit.setText(str(port))
        kinds = [value for _, value in model.CREDENTIAL_CHOICES]
        view.credential_choice.setCurrentIndex(kinds.index(credential))
        if credential == model.TYPED_TOKEN:  # a token from HRPYC_TOKEN: the panel may show and test it
            self.applied_token = model.environment_token()
            view.token_edit.setText(self.applied_token)
        view.show_credential(credential)
        view.tls.setText(model.tls_text())
        if settings.problem:
            view.say(view.note, "Settings are not remembered: " + settings.problem)
        elif settings.from_environment:
            view.say(
                view.note,
                "Host, port and token come from the environment (HRPYC_AUTOSTART, HRPYC_HOST, HRPYC_PORT, "
                "HRPYC_TOKEN), which wins over the panel's remembered settings.",
            )
