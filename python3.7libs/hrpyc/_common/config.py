"""Both sides: every environment variable hrpyc reads (HRPYC_* and the per-user folder's), read here
when it is needed, never at import.

It imports nothing of hrpyc's, so Houdini's start-up hooks can load it alone without the ~100 ms of
importing rpyc; only a bad value loads `errors`, to raise its ConfigError.
"""

from __future__ import annotations

import math
import os
import stat
import sys
from typing import Any, Dict, Optional, Sequence, Tuple, Union

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 18811  # SideFX's default, kept so existing scripts keep working
DISPATCH_MODES = ("auto", "main", "qt", "thread")  # see hrpyc._server.dispatch
DEFAULT_TIMEOUT = 30.0  # rpyc's own default, which users of the stock setup know
MAX_TIMEOUT = 2000000.0  # rpyc polls in milliseconds, as a C int: 2**31 ms is 24.8 days
DEFAULT_MAX_CLIENTS = 64
DEFAULT_AUTH_TIMEOUT = 10.0
FOREVER_WORDS = ("0", "inf", "none", "forever")

Seconds = Union[int, float]


def _invalid(variable: str, text: str, expected: str) -> Any:
    """The ConfigError for a bad value (imported here: a hook that loads config alone has no package yet)."""
    from hrpyc.errors import ConfigError

    return ConfigError(variable, text, expected)


def _invalid_secret(variable: str, fix: str) -> Any:
    """The ConfigError for a token that cannot be used: it names where the token came from, never the token."""
    from hrpyc.errors import ConfigError

    return ConfigError.secret(variable, fix)


def request_timeout(timeout: Optional[Seconds] = None) -> Optional[float]:
    """Seconds a request may take, None for no limit: `timeout` if given, else HRPYC_TIMEOUT, else 30.

    0 and math.inf wait forever, as HRPYC_TIMEOUT=0 does; rpyc spells that None.
    """
    if timeout is None:
        text = os.environ.get("HRPYC_TIMEOUT", "").strip()
        if not text:
            return DEFAULT_TIMEOUT
        timeout = seconds(text, "HRPYC_TIMEOUT")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout) or timeout < 0:
        raise ValueError("timeout={!r}: give seconds (> 0), 0 or math.inf to wait forever, or None".format(timeout))
    if timeout == 0 or math.isinf(timeout):
        return None
    if timeout > MAX_TIMEOUT:
        raise ValueError(
            "timeout={!r}: at most {:g} s (about 23 days), or 0 or math.inf to wait forever".format(
                timeout, MAX_TIMEOUT
            )
        )
    return float(timeout)


def seconds(text: str, variable: str) -> float:
    """A timeout typed as text (`variable`: HRPYC_TIMEOUT, or `timeout` for the CLI's --timeout): seconds,
    or math.inf for 0, inf, none and forever."""
    if text.strip().lower() in FOREVER_WORDS:
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise _invalid(variable, text, "a number of seconds such as 60, or 0 to wait forever") from None
    if math.isnan(value) or value < 0 or MAX_TIMEOUT < value < math.inf:
        raise _invalid(variable, text, "seconds up to {:g} such as 60, or 0 to wait forever".format(MAX_TIMEOUT))
    return value


def dispatch_mode(mode: Optional[str] = None) -> str:
    """Where requests run: `mode` if given, else HRPYC_DISPATCH, else 'auto'."""
    if mode is None:
        text = os.environ.get("HRPYC_DISPATCH", "").strip().lower()
        if not text:
            return "auto"
        if text not in DISPATCH_MODES:
            raise _invalid("HRPYC_DISPATCH", text, " or ".join(DISPATCH_MODES))
        return text
    if mode not in DISPATCH_MODES:
        raise ValueError("dispatch={!r}: use one of {}".format(mode, ", ".join(DISPATCH_MODES)))
    return mode


TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def flag(variable: str) -> bool:
    """A yes/no environment variable; unset is no."""
    text = os.environ.get(variable, "").strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise _invalid(variable, text, "1 or 0 (true/false, yes/no, on/off)")


def autostart() -> bool:
    """HRPYC_AUTOSTART: start the server from Houdini's start-up hooks; unset, 0, false, no and off are no."""
    return flag("HRPYC_AUTOSTART")


AUTOSTART_OWNER = "HRPYC_AUTOSTART_PID"  # see hrpyc._server.autostart


def autostart_owner() -> str:
    """HRPYC_AUTOSTART_PID: the pid of the process whose autostart took the port ('' when none)."""
    return os.environ.get(AUTOSTART_OWNER, "").strip()


def state_dir() -> str:
    """Where the per-user folder is: HRPYC_STATE_DIR, else the platform's per-user place for application
    state. Only its path: userdir.checked_state_dir makes and checks it."""
    path = os.environ.get("HRPYC_STATE_DIR", "").strip()
    if path:
        return path
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "hrpyc")


MIN_TOKEN = 8  # characters a server's token needs: a shared secret is often chosen by hand
MAX_TOKEN = 1024  # characters: a token is a password, not a file


def token_problem(token: str) -> Optional[str]:
    """What to change so `token` can be a server's token ('use at least 8 characters'), or None: the one rule
    of `hrpyc serve --token`, the panel's typed token, `token=` and HRPYC_TOKEN. ('auto' is a choice, not
    a token: callers take it first.) Clients show whatever their server asks for, and are not checked."""
    if len(token) < MIN_TOKEN:
        return "use at least {} characters".format(MIN_TOKEN)
    if len(token) > MAX_TOKEN:
        return "use at most {} characters".format(MAX_TOKEN)
    if token != token.strip():
        return "remove the spaces at its ends (clients read tokens without them)"
    if not token.isprintable():
        return "use printable characters only (no tabs, newlines or control characters)"
    return None


def server_token(token: Optional[str]) -> Optional[str]:
    """A server's token: `token` if given, else token_setting(); 'auto' as it is; ConfigError, naming where
    it came from but never the token, when token_problem() finds one."""
    given = token if token is not None else token_setting()
    if given and given != "auto":
        problem = token_problem(given)
        if problem is not None:
            raise _invalid_secret("token" if token is not None else token_variable(), problem)
    return given


def token_variable() -> str:
    """The variable token_setting() reads the token from: HRPYC_TOKEN, else HRPYC_TOKEN_FILE ('' when neither)."""
    for variable in ("HRPYC_TOKEN", "HRPYC_TOKEN_FILE"):
        if os.environ.get(variable, "").strip():
            return variable
    return ""


def token_setting() -> Optional[str]:
    """HRPYC_TOKEN, else the content of HRPYC_TOKEN_FILE, else None; 'auto' is passed on as it is."""
    value = os.environ.get("HRPYC_TOKEN", "").strip()
    if value:
        if len(value) > MAX_TOKEN:
            raise _invalid_secret("HRPYC_TOKEN", "use at most {} characters".format(MAX_TOKEN))
        return value
    path = os.environ.get("HRPYC_TOKEN_FILE", "").strip()
    if not path:
        return None
    try:  # non-blocking: a FIFO in its place must not hang Houdini's start-up
        fd = os.open(os.path.expanduser(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _invalid("HRPYC_TOKEN_FILE", path, "a readable file holding the token ({})".format(exc.strerror))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _invalid("HRPYC_TOKEN_FILE", path, "a regular file holding the token, not a pipe or a device")
        value = handle.read(MAX_TOKEN + 4).decode("utf-8-sig", "replace").strip()  # 3 more: Notepad's BOM
    if not value:
        raise _invalid("HRPYC_TOKEN_FILE", path, "a file holding the token, not an empty one")
    if len(value) > MAX_TOKEN:
        raise _invalid("HRPYC_TOKEN_FILE", path, "a token of at most {} characters".format(MAX_TOKEN))
    return value


TLS_VARIABLES = {"certfile": "HRPYC_TLS_CERT", "keyfile": "HRPYC_TLS_KEY", "cafile": "HRPYC_TLS_CA"}


def tls_files(
    certfile: Optional[str], keyfile: Optional[str], cafile: Optional[str]
) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """This process's certificate, its key, and the authority it trusts: the arguments, else
    HRPYC_TLS_CERT, HRPYC_TLS_KEY, HRPYC_TLS_CA."""
    given = {"certfile": certfile, "keyfile": keyfile, "cafile": cafile}
    files = tuple(
        given[name] or os.environ.get(variable, "").strip() or None for name, variable in TLS_VARIABLES.items()
    )
    for name, path in zip(TLS_VARIABLES, files):
        if path is not None and not os.path.isfile(path):
            raise _invalid(tls_setting(name, path), path, "the path of an existing PEM file")
    return files  # type: ignore[return-value]


def tls_setting(name: str, path: str) -> str:
    """What an error about a TLS file names: its HRPYC_TLS_* variable if that holds it, else the argument."""
    variable = TLS_VARIABLES[name]
    return variable if os.environ.get(variable, "").strip() == path else name


def max_clients(value: Optional[int] = None) -> int:
    """How many clients may be connected at once: `value`, else HRPYC_MAX_CLIENTS, else 64."""
    if value is None:
        text = os.environ.get("HRPYC_MAX_CLIENTS", "").strip()
        if not text:
            return DEFAULT_MAX_CLIENTS
        if not text.isdigit() or int(text) < 1:
            raise _invalid("HRPYC_MAX_CLIENTS", text, "a whole number of at least 1")
        return int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("max_clients={!r}: give a whole number of at least 1".format(value))
    return value


def auth_timeout() -> float:
    """Seconds a new connection has to finish TLS and show its token: HRPYC_AUTH_TIMEOUT, else 10."""
    text = os.environ.get("HRPYC_AUTH_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_AUTH_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_TIMEOUT:
        raise _invalid("HRPYC_AUTH_TIMEOUT", text, "a number of seconds above 0, such as 10")
    return seconds


def ports() -> Tuple[int, ...]:
    """HRPYC_PORT: a port (`18811`) or a range taking the first free one (`18811-18820`); else 18811."""
    text = os.environ.get("HRPYC_PORT", "").strip()
    if not text:
        return (DEFAULT_PORT,)
    first, _, last = text.partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        low, high = -1, -1
    if not (0 <= low <= 65535 and 0 <= high <= 65535 and low <= high):
        raise _invalid("HRPYC_PORT", text, "a port such as 18811, or a range such as 18811-18820")
    return tuple(range(low, high + 1))


# The variable each setting an error may name is read from, in autostart's words (errors.Setting).
SETTING_VARIABLES = {
    "host": "HRPYC_HOST",
    "port": "HRPYC_PORT",
    "dispatch": "HRPYC_DISPATCH",
    "timeout": "HRPYC_TIMEOUT",
    "token": "HRPYC_TOKEN",
    "allow_insecure": "HRPYC_ALLOW_INSECURE",
    "allow_other_users": "HRPYC_ALLOW_OTHER_USERS",
    "max_clients": "HRPYC_MAX_CLIENTS",
    **TLS_VARIABLES,
}


def as_variable(setting: Any) -> str:
    """A setting an error names (errors.Setting), as the environment sets it: `HRPYC_PORT=0 or
    HRPYC_PORT=18811-18820`, `HRPYC_ALLOW_INSECURE=1`; in Python's words when no variable sets it."""
    variable = SETTING_VARIABLES.get(setting.name)
    if variable is None:
        return str(setting)
    if setting.value is None:
        return variable
    text = "{}={}".format(variable, 1 if setting.value is True else setting.value)
    return text + (" or {}={}".format(variable, setting.or_range) if setting.or_range else "")


def host() -> str:
    """HRPYC_HOST, else loopback."""
    return os.environ.get("HRPYC_HOST", "").strip() or DEFAULT_HOST


def registry_setting() -> str:
    """HRPYC_REGISTRY: where servers register and `hrpyc sessions --registry` looks."""
    return os.environ.get("HRPYC_REGISTRY", "")


def child_environment(python_path: Sequence[str] = (), **changes: Optional[str]) -> Dict[str, str]:
    """This process's environment for a child Python: `python_path` first on its PYTHONPATH, and each of
    `changes` set (None removes it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (*python_path, env.get("PYTHONPATH", "")) if p)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def search_path() -> str:
    """PATH: where a child Python is looked for when this process is not one (the panel's Test, in Houdini)."""
    return os.environ.get("PATH", "")


def houdini_user_pref_dir() -> str:
    """HOUDINI_USER_PREF_DIR ('' when unset): Houdini's per-user folder, where `hrpyc install` writes."""
    return os.environ.get("HOUDINI_USER_PREF_DIR", "").strip()


def windows_homes() -> Tuple[str, str]:
    """HOME and USERPROFILE ('' when unset): where Houdini on Windows looks for its preference folder."""
    return os.environ.get("HOME", ""), os.environ.get("USERPROFILE", "")
