"""Both sides: the errors a user of hrpyc can meet, each a one-line message that says what happened
and what to do. The tree, drawn once (tests lock it against `hrpyc.__all__`, the classes' bases and
the README's troubleshooting table):

    HrpycError
     ├── BindError (OSError)                          the server could not listen
     │    └── PortInUseError                          ... because the port is taken
     ├── InsecureBindError                            listening beyond loopback with no credential
     ├── ServerAlreadyRunningError                    start_server() with other settings while one runs
     ├── ConfigError (ValueError)                     an HRPYC_* variable has a value we cannot use
     ├── UnsafeFileError (PermissionError)            a file of the per-user folder others could change
     ├── ServerNotFoundError (ConnectionError)        nobody answers at host:port
     ├── ProtocolError (ConnectionError)              something answered, but not as an rpyc server does
     ├── ConnectionLostError (ConnectionError)        the server went away during a call (also an EOFError)
     ├── TransferError (ConnectionError)              a bulk-lane buffer did not arrive whole
     ├── AuthenticationError (ConnectionRefusedError) the server refused our token
     ├── NotYourServerError (ConnectionRefusedError)  what answers on this machine is not this user's session
     ├── TooManyClientsError (ConnectionRefusedError) the server is at its client limit, or busy (a flood)
     ├── VersionMismatchError (ConnectionError)       the two ends' rpyc cannot talk
     ├── MultipleSessionsError                        no port given, and several local sessions to choose from
     ├── RemoteImportError (ImportError)              the server cannot import the module asked for
     ├── DispatchError                                the dispatch mode asked for cannot work in this process
     ├── CancelledError                               a job (or hrpyc.run) was cancelled before it finished
     ├── JobTimeoutError (TimeoutError)               job.result(timeout=) came back before the job finished
     └── RequestTimeoutError (TimeoutError)           a request did not finish in time
          └── HoudiniBusyError                        ... because Houdini's main thread never took it

Third-party errors (socket, TLS, rpyc) become these at one boundary each, and hide their cause
(`raise ... from None`): the message already says what happened, and a second traceback would bury
it. The original stays reachable as `__context__`.
"""

from __future__ import annotations

import errno
from typing import Any, Callable, List, Optional

from hrpyc._hints import PORT_RANGE as PORT_RANGE  # PORT_RANGE and Setting: importable from here too
from hrpyc._hints import Setting as Setting
from hrpyc._hints import spelled

__all__ = [
    "HrpycError",
    "BindError",
    "PortInUseError",
    "InsecureBindError",
    "ServerAlreadyRunningError",
    "ConfigError",
    "UnsafeFileError",
    "ServerNotFoundError",
    "ProtocolError",
    "ConnectionLostError",
    "TransferError",
    "AuthenticationError",
    "NotYourServerError",
    "TooManyClientsError",
    "VersionMismatchError",
    "MultipleSessionsError",
    "RemoteImportError",
    "DispatchError",
    "CancelledError",
    "JobTimeoutError",
    "RequestTimeoutError",
    "HoudiniBusyError",
]


class HrpycError(Exception):
    """Base of every error hrpyc raises on purpose."""

    _template, _values = "", ()  # () for a finished message (and for one rpyc rebuilt without __init__)

    def __init__(self, message: str, *values: Any, **kwargs: Any) -> None:
        """`message`, or a template that `values` fill in (`Setting`s among them)."""
        self._template, self._values = message, values
        super().__init__(message.format(*values) if values else message, **kwargs)

    @classmethod
    def _saying(cls, message: str, *values: Any) -> Any:
        """An error of this class with `message` (a template `values` fill in), not its __init__'s."""
        error = cls.__new__(cls)
        HrpycError.__init__(error, message, *values)
        return error

    def worded(self, spell: Callable[[Setting], str]) -> str:
        """The message with each setting it names spelled by `spell` (the CLI: `--port 0`)."""
        return spelled(self._template, self._values, spell) if self._values else str(self)


class BindError(HrpycError, OSError):
    """The server could not listen on the address asked for."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(
            "cannot listen on {}:{}: {}; use an address of this machine, or {}",
            host,
            port,
            reason,
            Setting("host", "127.0.0.1"),
        )


class PortInUseError(BindError):
    """The port is taken, by another Houdini, another application, or a child that inherited it."""

    def __init__(self, host: str, port: int, holder: str = "") -> None:
        """`holder`: who listens there when that is knowable (discovery.port_holder), else ''."""
        HrpycError.__init__(
            self,
            "{}:{} is already in use by {}; stop it, or use {} to take a free port",
            host,
            port,
            holder or "another program",
            Setting("port", 0, or_range=PORT_RANGE),
        )
        self.errno = errno.EADDRINUSE

    @classmethod
    def reserved(cls, host: str, port: int, number: int) -> PortInUseError:
        """Windows refused the port (WSAEACCES, `number`): it keeps ranges of ports for Hyper-V, WSL2 or
        Docker, or another program holds this one exclusively."""
        error: PortInUseError = cls._saying(
            "{}:{} is reserved by Windows or held exclusively by another program (`netsh int ipv4 show "
            "excludedportrange protocol=tcp` lists the reserved ranges); use {} or a port outside them",
            host,
            port,
            Setting("port", 0),
        )
        error.errno = number
        return error


class InsecureBindError(HrpycError):
    """Binding beyond loopback with no credential would let anyone on the network run code here."""

    def __init__(self, address: str) -> None:
        super().__init__(
            "refusing to listen on {} with no credential: anyone who can reach it could run code in this "
            "process; set {} (or HRPYC_TOKEN / TLS client certificates), or {} (HRPYC_ALLOW_INSECURE=1) if you "
            "accept that",
            address,
            Setting("token", "auto"),
            Setting("allow_insecure", True),
        )


class ServerAlreadyRunningError(HrpycError):
    """One server per process: start_server() was asked for another address while one runs."""

    def __init__(self, running: str, requested: str) -> None:
        super().__init__(
            "an hrpyc server is already running on {}; call hrpyc.stop_server() before starting one on {}".format(
                running, requested
            )
        )


class ConfigError(HrpycError, ValueError):
    """An HRPYC_* environment variable, or the argument given instead, has a value hrpyc cannot use."""

    def __init__(self, variable: str, value: Any, expected: str) -> None:
        """`variable`: HRPYC_*, or the keyword argument (`certfile`) the value came from."""
        named = "{}={!r}".format(variable, value) if variable.startswith("HRPYC_") else Setting(variable, value)
        super().__init__(
            "{} is missing; expected {}" if value is None else "{} is not valid; expected {}", named, expected
        )
        self.variable = variable

    @classmethod
    def secret(cls, variable: str, fix: str) -> ConfigError:
        """A secret (a token) that cannot be used, named by where it came from, never shown."""
        named = variable if variable.startswith("HRPYC_") else Setting(variable)
        error: ConfigError = cls._saying("{} is not valid: {}", named, fix)
        error.variable = variable
        return error


class UnsafeFileError(HrpycError, PermissionError):
    """The per-user folder, or a file in it, is not this user's alone: hrpyc will not trust it."""

    def __init__(self, path: str, why: str, fix: str) -> None:
        super().__init__("hrpyc will not use {}: it {}; {}".format(path, why, fix))


class ServerNotFoundError(HrpycError, ConnectionError):
    """Nothing accepted the connection in time (or the host name names no machine)."""

    _START = (  # what to do when no `fix` is given
        "in Houdini run `import hrpyc; hrpyc.start_server()` (without Houdini, `hrpyc serve --demo` serves a demo hou)"
    )

    def __init__(self, address: str, reason: str, fix: str = "") -> None:
        super().__init__("no hrpyc server at {} ({}); {}".format(address, reason, fix or self._START))

    @classmethod
    def unknown_host(cls, address: str, reason: str) -> ServerNotFoundError:
        """The host part names no machine the resolver knows: starting a server would not help."""
        return cls(address, reason, "check the host name")


class ProtocolError(HrpycError, ConnectionError):
    """The peer accepted the connection but did not speak rpyc the way we do."""

    def __init__(self, address: str, reason: str, *values: Any) -> None:
        """`reason` is a template when `values` (`Setting`s among them) fill it in."""
        reason = reason if values else reason.replace("{", "{{").replace("}", "}}")
        super().__init__(
            "{} accepted the connection but did not answer as an rpyc server (" + reason + "); check the port "
            "and that both sides use compatible rpyc versions",
            address,
            *values,
        )


class ConnectionLostError(HrpycError, ConnectionError, EOFError):
    """The server closed the connection during a call: it stopped, crashed, or dropped us. Also an
    EOFError, which is what rpyc raised there, so code that caught that still does."""

    def __init__(self, address: str) -> None:
        super().__init__(
            "the server at {} closed the connection during the call (stopped, crashed, or disconnected "
            "us); check it with `hrpyc ping` and connect again".format(address)
        )


class TransferError(HrpycError, ConnectionError):
    """A buffer on the bulk lane (hrpyc.run, fetch_*, push_file) did not arrive whole."""

    def __init__(self, address: str, direction: str, reason: str) -> None:
        super().__init__(
            "a bulk transfer {} {} failed ({}); the session may have stopped or the network dropped: "
            "check it with `hrpyc ping` and retry".format(direction, address, reason)
        )


class AuthenticationError(HrpycError, ConnectionRefusedError):
    """The server and our client do not share the token (or whatever answered is not that server), or one
    of them asks for a token the other does not have."""

    def __init__(
        self, address: str, why: str = "it could not prove it knows it: a wrong token, or not that server"
    ) -> None:
        super().__init__(
            "the server at {} refused our token ({}); pass the server's token as {} or set HRPYC_TOKEN or "
            "HRPYC_TOKEN_FILE (a server started with {} keeps it in hrpyc's per-user folder)",
            address,
            why,
            Setting("token"),
            Setting("token", "auto"),
        )

    @classmethod
    def token_needed(cls, address: str) -> AuthenticationError:
        """We offered no token and the server (or its session record) asks for one."""
        return cls._saying(
            "the server at {} needs a token; pass it as {} or set HRPYC_TOKEN or HRPYC_TOKEN_FILE",
            address,
            Setting("token"),
        )

    @classmethod
    def no_token_asked(cls, address: str, offered: Any) -> AuthenticationError:
        """We offered a token (`offered`: the Setting or variable it came from) and the server asks for none:
        it cannot prove it is the server the token is for."""
        fix = "unset {}".format(offered) if isinstance(offered, str) else "leave out {}"
        return cls._saying(
            "the server at {} asks for no token, so it cannot prove it is the one our token is for; to use it, " + fix,
            address,
            *(() if isinstance(offered, str) else (offered,)),
        )


class NotYourServerError(HrpycError, ConnectionRefusedError):
    """What answers on this machine's loopback is not one of this user's sessions: another user's process
    (a relay, a squatter), or a port no session record of this user names. Nothing was sent to it."""

    @classmethod
    def of_user(cls, address: str, who: str) -> NotYourServerError:
        """`who`: the other user as the system names them ('uid 1002', a Windows SID, or how macOS knows)."""
        return cls(
            "{} belongs to another user ({}), so it is not your Houdini; nothing was sent to it: check the port "
            "(`hrpyc sessions` lists yours), or pass {} if you mean to reach that user's server",
            address,
            who,
            Setting("allow_other_users", True),
        )

    @classmethod
    def unrecorded(cls, address: str) -> NotYourServerError:
        return cls(
            "{} is not one of your hrpyc sessions (no session record of yours names it), so {} was not offered "
            "to it: check the port (`hrpyc sessions` lists yours), or pass that server's own token as {}",
            address,
            Setting("token", "auto"),
            Setting("token"),
        )


class TooManyClientsError(HrpycError, ConnectionRefusedError):
    """The server has as many clients as it allows, or (`busy`) is authenticating as many connections
    as it takes at once: a flood, or a crowd connecting together; `others`: how many, when it said."""

    def __init__(self, address: str, busy: bool = False, others: Optional[int] = None) -> None:
        if busy:
            crowd = "{} others".format(others) if others is not None else "other connections"
            super().__init__("{} is busy authenticating {} (a flood?); retry in a moment".format(address, crowd))
            return
        super().__init__(
            "{} has as many clients as it allows; close some connections, or raise HRPYC_MAX_CLIENTS "
            "(max_clients=) on the server".format(address)
        )


class VersionMismatchError(HrpycError, ConnectionError):
    """The server's rpyc and ours speak different envelopes, and the server is not hrpyc's to bridge them."""

    def __init__(self, address: str, server: str, client: str, fix: str) -> None:
        super().__init__("{} speaks {} and this client {}: they cannot talk; {}".format(address, server, client, fix))


class MultipleSessionsError(HrpycError):
    """import_remote_module() was given no port, and this user runs several hrpyc sessions here."""

    def __init__(self, sessions: List[str]) -> None:
        super().__init__(
            "{} hrpyc sessions run on this machine: {}; pass {} to choose (`hrpyc sessions` lists them)",
            len(sessions),
            "; ".join(sessions),
            Setting("port"),
        )


class RemoteImportError(HrpycError, ImportError):
    """The server's Python cannot import the module the client asked for."""

    def __init__(self, name: str, address: str) -> None:
        hint = (
            "it is not Houdini or hython (plain Python has no hou): start the server in Houdini, or serve a demo "
            "hou with `hrpyc serve --demo` to try hrpyc without Houdini"
            if name == "hou"
            else "is it installed in the server's Python?"
        )
        super().__init__("the server at {} cannot import {!r}; {}".format(address, name, hint), name=name)


class RequestTimeoutError(HrpycError, TimeoutError):
    """A request did not finish within the client's timeout; the server may still be working on it."""

    def __init__(self, address: str, timeout: float) -> None:
        super().__init__(
            "the request to {} did not finish within {:g} s; pass a larger {} or set HRPYC_TIMEOUT (0 waits forever)",
            address,
            timeout,
            Setting("timeout"),
        )


class HoudiniBusyError(RequestTimeoutError):
    """Houdini's main thread did not take the request in time; it was dropped, not run late (the server
    says so in a builtin TimeoutError for stock clients: hrpyc._wire.remote_errors.busy_refusal)."""

    def __init__(self, address: str, timeout: float, holder: str = "") -> None:
        HrpycError.__init__(
            self,
            "Houdini at {} is busy{}; it did not take the request within {:g} s - the request was dropped; "
            "retry when it is idle, or pass a larger {}",
            address,
            ": " + holder if holder else " (a cook, a render, a modal dialog?)",
            timeout,
            Setting("timeout"),
        )


class DispatchError(HrpycError):
    """The dispatch mode asked for cannot work in this process."""

    def __init__(self, mode: str, reason: str) -> None:
        super().__init__(
            "{} cannot work here: {}; use {} (or unset HRPYC_DISPATCH)",
            Setting("dispatch", mode),
            reason,
            Setting("dispatch", "auto"),
        )


class CancelledError(HrpycError):
    """A job, or the code of hrpyc.run, was cancelled (job.cancel(), Ctrl-C, or its client went away)."""

    def __init__(self, job: str, address: str, how: str) -> None:
        super().__init__("{} on {} was cancelled ({}); nothing after that point ran".format(job, address, how))


class JobTimeoutError(HrpycError, TimeoutError):
    """job.result(timeout=) returned before the job finished; the job goes on."""

    def __init__(self, job: str, address: str, timeout: float, state: str) -> None:
        super().__init__(
            "{} on {} is still {} after {:g} s; wait again with job.result(timeout=...), or stop it with "
            "job.cancel()".format(job, address, state, timeout)
        )
