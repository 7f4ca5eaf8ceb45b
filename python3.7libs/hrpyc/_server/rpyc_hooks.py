"""Server side: rpyc's server, extended through its hooks - each request handed to our dispatch (as a
requests.Request) and answered as rpyc would, every rpyc generation answered, and an accept loop that
survives its own stop.

See rpyc_versions for why these internals are touched only in the rpyc_* modules.
"""

from __future__ import annotations

import collections
import socket
import sys
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple

import rpyc
from rpyc.core import consts
from rpyc.utils.server import ThreadedServer

from hrpyc._common.address import is_ipv6
from hrpyc._oslayer import sockets
from hrpyc._server.requests import Request
from hrpyc._wire import remote_errors
from hrpyc._wire.rpyc_versions import (
    HANDLE_RELEASE,
    MAX_RELEASE,
    BridgingChannel,
    FastSocketStream,
    raw_socket,
    unpack_releases,
)

_ANSWERS = (consts.MSG_REPLY, consts.MSG_EXCEPTION)
_PLUMBING = remote_errors.plumbing(rpyc, sys.modules["hrpyc"])  # frames an error's traceback leaves out
_ANSWERED_AS_IS = (consts.HANDLE_DEL, consts.HANDLE_CLOSE)  # see ServerConnection._answered_as_is
# Released pairs a client may have waiting (a few releases' worth): a client that sends more before a
# request of its runs where hou runs keeps the rest until it disconnects.
MAX_PENDING_RELEASES = 4 * MAX_RELEASE
# How long the server waits for a client to confirm a release of its object (see async_request): clients
# answer at once, and one that has not within this (it made a call it does not wait for) gets rpyc's
# unconfirmed releases from then on.
RELEASE_CONFIRMATION = 0.05


def _released(boxed: Any) -> List[Tuple[Tuple[str, int, int], int]]:
    """The pairs in HANDLE_RELEASE's arguments, boxed as plain values are: (LABEL_VALUE, (names, numbers))."""
    if type(boxed) is tuple and len(boxed) == 2 and boxed[0] == consts.LABEL_VALUE:
        values = boxed[1]
        if type(values) is tuple and len(values) == 2:
            return unpack_releases(*values)
    return []


class ServerConnection(rpyc.Connection):
    """The server's end of one client: every incoming request goes to `request_hook`.

    `_dispatch_request(seq, raw_args)` is the whole of rpyc's request handling (unbox, run, reply) and
    has the same signature from 4.1.0 to 6.0.2, so wrapping it is how a request is counted and moved
    to the thread it must run on. `timeout` is how long the client waits for an answer: rpyc's 30 s
    unless our client says otherwise in its handshake.
    """

    request_hook: Optional[Callable[[Request], None]] = None
    timeout: Optional[float] = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._before_reply: Dict[int, Callable[[], None]] = {}  # by request seq: see answer
        self._releasing: Deque[Tuple[Any, int]] = collections.deque()  # see _dispatch_request
        self._dropped: Deque[Any] = collections.deque()  # releases to send: see async_request
        self._confirming = True
        # The client's requests not answered after our releases: its own releases (it does not wait for
        # those answers) and its close.
        self._answered_as_is: Set[int] = set()

    def async_request(self, handler, *args, **kwargs):  # type: ignore[no-untyped-def]
        """rpyc's, except for a proxy's release of the client's object (a list it passed, once read).
        rpyc sends it unawaited, so the client's confirmation can come just before its answer to our
        next call into it, and TCP then holds that answer back (Nagle's algorithm, on in SideFX's
        client) until we acknowledge the confirmation, which we delay having nothing to send (40 ms on
        Linux, 200 ms on Windows). Instead the release goes just before the next message of ours the
        client waits for, and is confirmed before that leaves: whatever a client sends is then followed
        by something of ours."""
        if handler == consts.HANDLE_DEL and self._confirming and not kwargs:
            self._dropped.append(self._box(args))
            return None
        return super().async_request(handler, *args, **kwargs)

    def _send_dropped(self) -> None:
        """Send the releases, each confirmed before the next (two confirmations in a row would stall too)."""
        while self._dropped:
            try:
                boxed = self._dropped.popleft()
            except IndexError:  # another thread sent it
                return
            confirmed = rpyc.AsyncResult(self)
            seq = self._get_seq_id()
            self._request_callbacks[seq] = confirmed  # as rpyc's async_request does
            try:
                super()._send(consts.MSG_REQUEST, seq, (consts.HANDLE_DEL, boxed))
                if self._confirming:
                    confirmed.set_expiry(RELEASE_CONFIRMATION)
                    confirmed.wait()
            except rpyc.AsyncResultTimeout:
                self._confirming = False
            except EOFError:
                return  # gone: what is sent next finds out

    def _send(self, msg, seq, args):  # type: ignore[no-untyped-def]
        # rpyc boxes a request's answer, then sends it here; seq numbers the client's request only
        # in an answer (the server's own requests to the client number their own).
        if msg in _ANSWERS:
            if seq in self._answered_as_is:
                self._answered_as_is.discard(seq)
            elif self._dropped:
                self._send_dropped()
            if self._before_reply:
                before = self._before_reply.pop(seq, None)
                if before is not None:
                    before()
        elif self._dropped and args[0] != consts.HANDLE_CLOSE:  # a call into the client
            self._send_dropped()
        super()._send(msg, seq, args)

    def _box_exc(self, typ, val, tb):  # type: ignore[no-untyped-def]
        # rpyc's error, ((module, class name), args, attributes, traceback text), as our clients raise it
        # as its own class (see remote_errors): with its lineage and message, and the traceback from the
        # first frame that is not rpyc's or ours. Never an error here: the client would get no answer.
        boxed: Any = super()._box_exc(typ, val, tb)  # a 4-tuple, or StopIteration's constant
        try:
            names, args, attrs, text = boxed
            if self._config["include_local_traceback"]:
                text = remote_errors.traceback_text(typ, val, tb, _PLUMBING)
            return names, args, remote_errors.attributes(typ, val, attrs), text
        except Exception:  # StopIteration's constant; a class or a traceback too odd to read
            return boxed

    def _dispatch_request(self, seq, raw_args):  # type: ignore[no-untyped-def]
        if raw_args[0] in _ANSWERED_AS_IS:
            self._answered_as_is.add(seq)
        if raw_args[0] == HANDLE_RELEASE:
            # Our client's dropped proxies (rpyc_versions.HANDLE_RELEASE), never answered: kept until a
            # request of the client's runs where hou runs, and applied there once it has answered (see
            # apply_releases). Read as they came, unboxed: nothing in them is a proxy.
            if len(self._releasing) < MAX_PENDING_RELEASES:
                self._releasing.extend(_released(raw_args[1]))
            return
        hook = self.request_hook
        if hook is None:
            super()._dispatch_request(seq, raw_args)
        else:
            hook(Request(self, seq, raw_args))

    def answer(self, seq: int, raw_args: Any, enter: Optional[Callable[[], Optional[Callable[[], None]]]]) -> None:
        """Unbox, run and reply to a request, as rpyc would; `enter` as Request.run takes it."""
        leave = enter() if enter is not None else None
        if leave is None:
            rpyc.Connection._dispatch_request(self, seq, raw_args)
            return
        self._before_reply[seq] = leave
        try:
            rpyc.Connection._dispatch_request(self, seq, raw_args)
        finally:
            if self._before_reply.pop(seq, None) is not None:
                leave()

    def refuse(self, seq: int, exc: BaseException) -> None:
        """Reply to a request with `exc` instead of running it; a gone client is not an error."""
        try:
            self._send(consts.MSG_EXCEPTION, seq, self._box_exc(type(exc), exc, None))
        except (EOFError, OSError):
            pass

    def local_root(self) -> Any:
        """Our service, the root object a client's proxies start from."""
        return self._local_root

    def local_object(self, id_pack: Any) -> Any:
        """Our object that a client's proxy with `id_pack` stands for; KeyError when there is none."""
        return self._local_objects[id_pack]

    def apply_releases(self) -> None:
        """Release what the client dropped, each pair as rpyc's HANDLE_DEL handler takes it (a pair not
        known is skipped, as a stale DEL is). Called after an answer, on the thread where hou runs
        (Houdini's main thread in a graphical session), where a stock client's DEL would run: an object
        may be one that must be destroyed there (a Qt widget). The request that came with them cannot be
        using them, and its answer does not wait for them."""
        releasing = self._releasing
        while releasing:
            try:
                id_pack, count = releasing.popleft()  # another thread may be answering, and releasing
            except IndexError:
                return
            try:
                self._local_objects.decref(id_pack, count)
            except KeyError:
                continue

    def objects_held(self) -> int:
        """How many of our objects the client holds proxies to (rpyc keeps them alive until released)."""
        return len(self._local_objects._dict)

    def can_be_served_elsewhere(self) -> bool:
        """Whether another thread may serve this connection's next message while its own thread waits
        inside a request (rpyc >= 5.3's experimental bound threads route messages per thread: no)."""
        return not getattr(self, "_bind_threads", False) and not self.closed

    def serve_next(self, seconds: float) -> bool:
        """Serve the next message if it has arrived whole within `seconds`, on the calling thread; False
        if none did (part of one stays for the connection's own thread to read) or the connection ended
        (its own thread then finds it closed and cleans up)."""
        try:
            if not self._channel.frame_within(seconds):
                return False
            return bool(self.serve(0)) and not self.closed
        except EOFError:
            return False
        except Exception:  # a peer that broke the protocol: cut off, as serve_until_closed does
            sockets.cut(raw_socket(self))
            return False

    def serve_until_closed(self) -> None:
        """rpyc's serve_all, except that a peer that broke the protocol is cut off at once.

        rpyc >= 5.2's close() asks the peer to confirm and waits up to sync_request_timeout (30 s) for
        an answer a garbage-sending peer never gives; with its socket shut, close() returns at once.
        """
        try:
            while not self.closed:
                self.serve(None)  # pyright: ignore[reportArgumentType]  # rpyc says int; None: no time limit
        except EOFError:
            pass
        except Exception:
            sockets.cut(raw_socket(self))
            raise
        finally:
            self.close()


class BridgingServer(ThreadedServer):
    """rpyc's ThreadedServer with its contract unchanged (arguments, `start()`, `close()`, `port`,
    subclassing), plus what every server in a Houdini needs: TCP_NODELAY on accepted sockets, one
    channel that answers clients of every rpyc generation, and a stop that prints no traceback."""

    def accept(self) -> None:
        """rpyc's accept (the same 4.1.0 to 6.0.2), except that it survives what a busy or hostile moment
        makes accept() fail with, on every OS (see _oslayer.sockets.accept_error): a client that reset
        before it was accepted is skipped, and running out of file descriptors or memory (a burst of
        sockets) backs off and accepts again, where rpyc took either for a normal close and the server
        stopped for good; another error is raised, so the server says why it ended."""
        while self.active:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError as exc:
                if not self.active:
                    raise EOFError() from None  # close() closed the listener: rpyc's normal end
                action = sockets.accept_error(exc.errno)
                if action is None:
                    raise
                if action == sockets.BACK_OFF:
                    self._back_off(exc)
                continue
            self._backoff = 0.0
            sock.setblocking(True)
            self.clients.add(sock)
            self._accept_method(sock)
            return

    _backoff = 0.0

    def _back_off(self, exc: OSError) -> None:
        if not self._backoff:
            self.logger.warning("hrpyc: out of file descriptors or memory (%s); accepting again shortly", exc)
        self._backoff = min(max(self._backoff * 2, 0.05), 1.0)
        time.sleep(self._backoff)  # nothing to wait on: descriptors free up as other sockets close

    def _accept_method(self, sock):  # type: ignore[no-untyped-def]
        # close() may have run since accept() returned: it could not see this socket, so close it
        # here (rpyc would go on to serve it, or fail on it in a thread of its own).
        if not self.active:
            sockets.cut(sock)
            sock.close()
            self.clients.discard(sock)
            return
        try:
            # rpyc never sets TCP_NODELAY on accepted sockets; small replies then wait ~40 ms for an ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # closed by close() meanwhile, or reset by the client: the thread below ends at once
        super()._accept_method(sock)

    def _authenticate_and_serve_client(self, sock):  # type: ignore[no-untyped-def]
        """rpyc's, on the connection's own thread, minus the traceback it prints when the socket is
        gone before it asks for the peer's address (close() ran, or the client reset at once)."""
        try:
            super()._authenticate_and_serve_client(sock)
        except OSError:
            pass  # rpyc's own finally has closed the socket and forgotten it

    def _serve_client(self, sock, credentials):  # type: ignore[no-untyped-def]
        try:
            super()._serve_client(sock, credentials)
        except OSError:
            pass  # the client left between authentication and its first byte (rpyc asks for its address)

    def _handle_connection(self, conn):  # type: ignore[no-untyped-def]
        # rpyc built a plain Channel and stream, and nothing has been read yet: ours take their place.
        conn._channel = BridgingChannel(FastSocketStream(conn._channel.stream.sock), conn._channel.compress)
        self._serve_bridged(conn)

    def _serve_bridged(self, conn: rpyc.Connection) -> None:
        ThreadedServer._handle_connection(self, conn)  # rpyc's own: serve until the client leaves


class ListeningServer(BridgingServer):
    """hrpyc.Server's rpyc server: each connection handed to a callback; `serve_raw(sock, credentials)`
    first gets each authenticated socket, and keeps those it serves itself (the bulk lane's) from rpyc."""

    listener: socket.socket  # rpyc's, bound in its __init__

    def __init__(
        self,
        service: type,
        host: str,
        port: int,
        authenticator: Callable[[socket.socket], Tuple[Any, Any]],
        logger: Any,
        serve_connection: Callable[[Any], None],
        serve_raw: Callable[[socket.socket, Any], bool],
        registrar: Optional[Any] = None,
    ) -> None:
        # Pass host and a fresh config dict: rpyc's defaults drifted ("" -> None in 5.0, one shared
        # protocol_config dict before 4.1.5).
        super().__init__(
            service,
            hostname=host,
            port=port,
            ipv6=is_ipv6(host),
            reuse_addr=True,
            authenticator=authenticator,
            registrar=registrar,
            auto_register=registrar is not None,
            protocol_config={},
            logger=logger,
        )
        self.listener = sockets.exclusive(self.listener)  # Windows: no other socket may bind over our port
        self.listener.set_inheritable(False)
        self._serve_connection = serve_connection
        self._serve_raw = serve_raw

    def listen(self) -> None:
        """Start listening now, in the caller's thread, so clients connect as soon as we return."""
        self._listen()

    def _serve_client(self, sock, credentials):  # type: ignore[no-untyped-def]
        if not self._serve_raw(sock, credentials):
            super()._serve_client(sock, credentials)

    def _serve_bridged(self, conn: rpyc.Connection) -> None:
        self._serve_connection(conn)
