"""Server side: what the server offers a client: rpyc's classic service (so stock clients work) plus a
handshake and a description of itself that need no `hou` and no main thread.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional, Tuple, Union

from rpyc.core.service import SlaveService

from hrpyc._common.printable import printable
from hrpyc._houdini import houdini
from hrpyc._server.job_code import compiled, execute
from hrpyc._server.job_record import Progress
from hrpyc._server.job_table import MAX_WAIT, JobTable, Refused
from hrpyc._server.output import Chunk
from hrpyc._server.rpyc_hooks import ServerConnection
from hrpyc._server.undo import UndoGroups
from hrpyc._wire import plain
from hrpyc._wire.client_info import Pairs
from hrpyc._wire.job_states import CANCELLED, DONE, FAILED
from hrpyc._wire.lane import HANDSHAKE_KEY, Buffer, Lanes, Shipped
from hrpyc._wire.rpyc_versions import BYTECODE_CAPABILITY

# Pairs rather than a dict: rpyc sends a tuple of strings by value, a dict as a proxy.
Info = Tuple[Tuple[str, str], ...]


class HrpycService(SlaveService):
    """rpyc's SlaveService, not classic's ClassicService: the server never asks for the client's root,
    so a connection costs one round trip less and the server never reaches into the client.

    Its `hrpyc_*` methods are answered on the connection's thread (see hrpyc._server.requests.Request.light).
    """

    __slots__ = ()
    _protocol = ServerConnection
    lanes: Lanes  # the server's, set by service_for
    jobs: JobTable  # likewise
    undo: UndoGroups  # likewise

    def introduce(self, conn: Any, said: Any) -> None:
        raise NotImplementedError  # the server's: keep what a client says of itself

    def clients(self, asking: Any) -> Tuple[Pairs, ...]:
        raise NotImplementedError  # the server's: its clients but the one asking

    def describe(self) -> Info:
        raise NotImplementedError  # each server's own subclass says what it is

    def hrpyc_info(self) -> Info:
        """What this server is: hrpyc, rpyc, Python and Houdini versions, pid, dispatch, busy time."""
        return self.describe()

    def hrpyc_hello(self, timeout: Optional[float], client: Any = ()) -> Info:
        """Our client's handshake: how long it waits for an answer, so the server can say "busy"
        before the client gives up, and who it is (hrpyc._common.identity's pairs; older hrpyc clients send
        none); answers with hrpyc_info(), the connection's bulk-lane key (hex; empty when this server
        offers no lane - see hrpyc._wire.lane) and the bytecode it runs (see hrpyc_submit)."""
        if timeout is None or (isinstance(timeout, (int, float)) and timeout > 0):
            self._conn.timeout = timeout
        self.introduce(self._conn, client)
        return self.describe() + ((HANDSHAKE_KEY, self.lanes.open(self._conn).hex()), BYTECODE_CAPABILITY)

    def hrpyc_clients(self) -> Tuple[Pairs, ...]:
        """The server's other clients, oldest first, as client_info.to_pairs (`hrpyc sessions --clients`)."""
        return self.clients(self._conn)

    def run_code(self, source: str, name: str, arguments: str, buffers: plain.Buffers) -> plain.Answer:
        """hrpyc.run() of hrpyc clients before jobs: run a code block, or call a function, and answer."""
        args, kwargs = plain.unpack_arguments(arguments, buffers, self._unship)  # first: no parcel left behind
        return plain.pack_result(execute(source, name, args, kwargs), self._ship)

    def hrpyc_submit(
        self,
        source: Union[str, bytes],
        name: str,
        arguments: str,
        buffers: Any,
        wait: float,
        tag: int = 0,
        progress: bool = False,
        bytes_at_any_depth: bool = False,
    ) -> Tuple[Any, ...]:
        """hrpyc.submit() and hrpyc.run(): start a job (see hrpyc._server.job_table) and answer as hrpyc_job_poll
        does (hrpyc_job_news with `progress`), after up to `wait` s, with the job's id first: a quick job
        run() waits for is done in one round trip. `source`: a code block, a function's source, or (bytes) a
        function's compiled code from a client of this Python (job_code.compiled). `tag`: the client's name for
        the job, should it have to cancel it before this answer comes. A job not taken (see JobTable.submit) is
        id 0, cancelled, with the reason as its outcome: older clients raise CancelledError with it.
        `bytes_at_any_depth`: the client sends and takes bytes-likes at any depth as buffers (see hrpyc._wire.plain)."""
        if not isinstance(source, (str, bytes)) or not isinstance(name, str):
            raise TypeError("hrpyc_submit takes the code's source (or compiled code) and its function's name")
        function = compiled(source) if isinstance(source, bytes) else source
        at_any_depth = bytes_at_any_depth is True
        args, kwargs = plain.unpack_arguments(arguments, buffers, self._unship, at_any_depth)
        ship = self._ship

        def code() -> plain.Answer:
            return plain.pack_result(execute(function, name, args, kwargs), ship, at_any_depth)

        try:
            job = self.jobs.submit(self._conn, printable(name or "code", 80), code, tag)
        except Refused as refused:
            return 0, CANCELLED, (), str(refused)
        news = self._news(job.id, 0, wait)
        return (job.id,) + (news if progress is True else news[:3])

    def hrpyc_job_news(
        self, job_id: int, index: int, wait: float
    ) -> Tuple[str, Tuple[Chunk, ...], Any, Optional[Progress]]:
        """(state, output chunks from `index` on, outcome, progress), after up to `wait` s for news: the
        outcome is the packed result once done, how it was cancelled once cancelled; a failed job's error
        comes from hrpyc_job_result. Progress is what the code last said with hrpyc.progress(), as
        (fraction, message), or None. A job done or cancelled is forgotten once it has said so."""
        return self._news(job_id, index, wait)

    def hrpyc_job_poll(self, job_id: int, index: int, wait: float) -> Tuple[str, Tuple[Chunk, ...], Any]:
        """hrpyc_job_news without the progress, for hrpyc clients before it."""
        return self._news(job_id, index, wait)[:3]

    def _news(self, job_id: int, index: int, wait: float) -> Tuple[str, Tuple[Chunk, ...], Any, Optional[Progress]]:
        job = self.jobs.find(self._conn, job_id)
        index = index if type(index) is int and index >= 0 else 0
        state, chunks = job.news(index, self._bounded_wait(wait))
        outcome = job.outcome if state == DONE else job.cancelled_how if state == CANCELLED else None
        if outcome is not None:
            self.jobs.forget(job)
        return state, chunks, outcome, job.progress

    def hrpyc_job_result(self, job_id: int) -> None:
        """A failed job's error, raised as hrpyc.run raises it; then the job is forgotten."""
        job = self.jobs.find(self._conn, job_id)
        if job.state != FAILED:
            raise ValueError("job {} is {}, not failed".format(job_id, job.state))
        self.jobs.forget(job)
        raise job.outcome

    def hrpyc_job_cancel(self, job_id: int) -> str:
        """Drop the job if queued, interrupt its Python code if running; its state afterwards."""
        return self.jobs.find(self._conn, job_id).cancel("cancelled by its client")

    def hrpyc_job_cancel_tagged(self, tag: int) -> int:
        """Cancel the job the client tagged `tag` as it submitted it (Ctrl-C before it learned the id);
        its id, or 0 if there is none (the submit never arrived)."""
        job = self.jobs.tagged(self._conn, tag)
        if job is None:
            return 0
        job.cancel("cancelled by its client")
        return job.id

    def hrpyc_undo_open(self, label: str) -> None:
        """hrpyc.undo_group(): open an undo group on the main thread, after what is queued there."""
        self.undo.open(self._conn, printable(str(label), 200))

    def hrpyc_undo_close(self) -> None:
        """Close this client's innermost undo group, after what is queued on the main thread."""
        self.undo.close(self._conn)

    def _bounded_wait(self, wait: Any) -> float:
        """A poll's wait: at most MAX_WAIT, and half what the client waits for any answer; none on the
        thread that runs jobs (the main thread, serving a client's calls in a row: see dispatch)."""
        if self.jobs.runs_here():
            return 0.0
        seconds = float(wait) if isinstance(wait, (int, float)) and wait > 0 else 0.0
        timeout = self._conn.timeout
        return min(seconds, MAX_WAIT, timeout / 2 if timeout else MAX_WAIT)

    def attrib_buffer(self, node_path: str, name: str, kind: str) -> Tuple[Shipped, str, int]:
        """hrpyc.fetch_attrib(): a geometry attribute as one buffer."""
        buffer, typecode, size = houdini.attrib_buffer(node_path, name, kind)
        return self._ship(buffer), typecode, size

    def read_file(self, path: str) -> Shipped:
        """hrpyc.fetch_file(): a file of the server's machine."""
        with open(path, "rb") as handle:
            return self._ship(handle.read())

    def write_file(self, path: str, shipped: Shipped) -> int:
        """hrpyc.push_file(): bytes into a file of the server's machine, its folders made if missing (as
        Houdini's ROPs make intermediate folders)."""
        data = self._unship(shipped)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        return len(data)

    def _ship(self, data: Buffer) -> Shipped:
        return self.lanes.ship(self._conn, data)

    def _unship(self, shipped: Shipped) -> bytes:
        return self.lanes.unship(self._conn, shipped)


def service_for(
    describe: Callable[[], Info],
    lanes: Lanes,
    introduce: Callable[[Any, Any], None],
    clients: Callable[[Any], Tuple[Pairs, ...]],
    jobs: JobTable,
    undo: UndoGroups,
) -> type:
    """The service class of one server, describing itself with `describe()`, its buffers on `lanes`,
    keeping what a client says of itself with `introduce(conn, said)`, listing `clients(asking_conn)`,
    running `jobs` and keeping its clients' `undo` groups."""
    own = {"describe": staticmethod(describe), "introduce": staticmethod(introduce), "clients": staticmethod(clients)}
    return type("HrpycService", (HrpycService,), dict(own, __slots__=(), lanes=lanes, jobs=jobs, undo=undo))
