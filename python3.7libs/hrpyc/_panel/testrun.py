"""Server side: the panel's Test button: hrpyc._caller.selftest in a separate process (a QProcess, so the panel
never waits for it), its steps shown as they end."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from hrpyc._caller import selftest
from hrpyc._common.address import dialable
from hrpyc._panel.qt import QtCore

TIME_LIMIT_MS = 60000  # the whole test; a Houdini busy for longer is reported, not waited for
Row = Tuple[str, str, str, str]  # step, result (passed, failed, skipped, running, not run), time, detail


class SelfTest(QtCore.QObject):
    """One run at a time; `show(rows)` is called with every step's row whenever one changes."""

    def __init__(self, parent: Any, show: Callable[[List[Row]], None]) -> None:
        super().__init__(parent)
        self._show = show
        self._rows: Dict[str, Row] = {}
        self._buffer = b""
        self._process: Optional[Any] = None
        self._limit = QtCore.QTimer(self)
        self._limit.setSingleShot(True)
        self._limit.timeout.connect(self._too_long)

    def running(self) -> bool:
        return self._process is not None

    def start(self, host: str, port: int, token: Optional[str]) -> None:
        """Test the server at host:port (0.0.0.0 is reached on loopback) with `token` if it needs one."""
        if self.running():
            return
        program, arguments, env = selftest.command(dialable(host), port, token)
        self._rows = {step: (step, "not run", "", "") for step in selftest.STEPS}
        self._rows[selftest.STEPS[0]] = (selftest.STEPS[0], "running", "", "")
        self._buffer = b""
        process = self._process = QtCore.QProcess(self)
        environment = QtCore.QProcessEnvironment()
        for name, value in env.items():
            environment.insert(name, value)
        process.setProcessEnvironment(environment)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._failed_to_start)
        self._publish()
        self._limit.start(TIME_LIMIT_MS)
        process.start(program, arguments)

    def forget(self) -> None:
        """The server tested is stopped or replaced: end a run, and show no results (they were its)."""
        process, self._process = self._process, None
        self._limit.stop()
        if process is not None:
            process.kill()
            process.waitForFinished(1000)  # killed: at once
            process.deleteLater()
        self._rows = {}
        self._show([])

    def _read(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                step = json.loads(line.decode("utf-8", "replace"))
                name, ok = str(step["step"]), step["ok"]
                result = "passed" if ok else ("skipped" if ok is None else "failed")
                self._rows[name] = (name, result, "{:.1f} ms".format(float(step["ms"])), str(step["detail"]))
            except (ValueError, KeyError, TypeError):
                continue  # not one of the test's lines
            following = list(selftest.STEPS).index(name) + 1 if name in selftest.STEPS else len(selftest.STEPS)
            if following < len(selftest.STEPS) and self._rows[selftest.STEPS[following]][1] == "not run":
                self._rows[selftest.STEPS[following]] = (selftest.STEPS[following], "running", "", "")
        self._publish()

    def _finished(self, *_: Any) -> None:
        process = self._process
        if process is None:
            return
        self._read()
        error = bytes(process.readAllStandardError()).decode("utf-8", "replace").strip()
        self._end(error.splitlines()[-1] if error else "the test process ended before this step")

    def _failed_to_start(self, error: Any) -> None:
        if self._process is not None and error == QtCore.QProcess.FailedToStart:
            self._end("could not start {}: {}".format(self._process.program(), self._process.errorString()))

    def _too_long(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._end("no answer within {} s: is Houdini busy?".format(TIME_LIMIT_MS // 1000))

    def _end(self, why: str) -> None:
        """The process is gone: the step it was on failed with `why`; later ones did not run."""
        process, self._process = self._process, None
        self._limit.stop()
        for step, row in self._rows.items():
            if row[1] == "running":
                self._rows[step] = (step, "failed", "", why)
        self._publish()
        if process is not None:
            process.deleteLater()

    def _publish(self) -> None:
        self._show([self._rows[step] for step in selftest.STEPS])
