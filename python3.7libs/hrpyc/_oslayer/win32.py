"""Both sides, Windows only: the calls into Windows the rest of `oslayer` needs, each returning what
Windows gives (bytes of a table, of a SID, of an access list; a number) or raising OSError (`winerror`
set) - nothing decided here. ctypes only, as Python 3.7 to 3.13 have it; no administrator rights needed.
"""

import ctypes
import msvcrt
import os
import struct
import sys
from contextlib import contextmanager
from ctypes import wintypes
from typing import Any, Iterator, Optional, Tuple, Union

assert sys.platform == "win32"

_kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
_advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
_iphlpapi = ctypes.WinDLL("iphlpapi", use_last_error=True)
_shell32 = ctypes.WinDLL("shell32", use_last_error=True)
_ole32 = ctypes.WinDLL("ole32", use_last_error=True)

PROCESS_QUERY_LIMITED_INFORMATION, TOKEN_QUERY, TOKEN_USER = 0x1000, 0x8, 1
TCP_TABLE_OWNER_PID_ALL, ERROR_INSUFFICIENT_BUFFER, ERROR_ALREADY_EXISTS = 5, 122, 183
GENERIC_WRITE, CREATE_NEW, FILE_ATTRIBUTE_NORMAL = 0x40000000, 1, 0x80
SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, DACL_SECURITY_INFORMATION, SDDL_REVISION_1 = 1, 1, 4, 1
_HANDLE, _PTR, _DWORD, _BOOL = wintypes.HANDLE, ctypes.c_void_p, wintypes.DWORD, wintypes.BOOL
_OUT_PTR = ctypes.POINTER(ctypes.c_void_p)


def _declare(library: Any, name: str, restype: Any, *argtypes: Any) -> Any:
    function = getattr(library, name)
    function.restype, function.argtypes = restype, argtypes
    return function


_OpenProcess = _declare(_kernel32, "OpenProcess", _HANDLE, _DWORD, _BOOL, _DWORD)
_GetCurrentProcess = _declare(_kernel32, "GetCurrentProcess", _HANDLE)
_CloseHandle = _declare(_kernel32, "CloseHandle", _BOOL, _HANDLE)
_GetProcessTimes = _declare(
    _kernel32, "GetProcessTimes", _BOOL, _HANDLE, *[ctypes.POINTER(ctypes.c_ulonglong)] * 4
)  # four FILETIMEs
_GetExitCodeProcess = _declare(_kernel32, "GetExitCodeProcess", _BOOL, _HANDLE, ctypes.POINTER(_DWORD))
_LocalFree = _declare(_kernel32, "LocalFree", _PTR, _PTR)
_CreateDirectoryW = _declare(_kernel32, "CreateDirectoryW", _BOOL, wintypes.LPCWSTR, _PTR)
_CreateFileW = _declare(
    _kernel32, "CreateFileW", _HANDLE, wintypes.LPCWSTR, _DWORD, _DWORD, _PTR, _DWORD, _DWORD, _HANDLE
)
_INVALID_HANDLE = ctypes.c_void_p(-1).value
_OpenProcessToken = _declare(_advapi32, "OpenProcessToken", _BOOL, _HANDLE, _DWORD, ctypes.POINTER(_HANDLE))
_GetTokenInformation = _declare(
    _advapi32, "GetTokenInformation", _BOOL, _HANDLE, ctypes.c_int, _PTR, _DWORD, ctypes.POINTER(_DWORD)
)
_GetLengthSid = _declare(_advapi32, "GetLengthSid", _DWORD, _PTR)
_GetNamedSecurityInfoW = _declare(
    _advapi32, "GetNamedSecurityInfoW", _DWORD, wintypes.LPCWSTR, ctypes.c_int, _DWORD, _OUT_PTR, _OUT_PTR, _OUT_PTR,
    _OUT_PTR, _OUT_PTR,
)  # fmt: skip
_GetSecurityInfo = _declare(
    _advapi32, "GetSecurityInfo", _DWORD, _HANDLE, ctypes.c_int, _DWORD, _OUT_PTR, _OUT_PTR, _OUT_PTR, _OUT_PTR,
    _OUT_PTR,
)  # fmt: skip
_ConvertSddl = _declare(
    _advapi32, "ConvertStringSecurityDescriptorToSecurityDescriptorW", _BOOL, wintypes.LPCWSTR, _DWORD, _OUT_PTR,
    ctypes.POINTER(ctypes.c_ulong),
)  # fmt: skip
_GetExtendedTcpTable = _declare(
    _iphlpapi, "GetExtendedTcpTable", _DWORD, _PTR, ctypes.POINTER(_DWORD), _BOOL, ctypes.c_ulong, ctypes.c_int,
    ctypes.c_ulong,
)  # fmt: skip
_SHGetKnownFolderPath = _declare(_shell32, "SHGetKnownFolderPath", ctypes.c_long, _PTR, _DWORD, _HANDLE, _OUT_PTR)
_CoTaskMemFree = _declare(_ole32, "CoTaskMemFree", None, _PTR)
# FOLDERID_Documents, {FDD39AD0-238F-46AF-ADB4-6C85480369C7}, as a GUID's bytes
_DOCUMENTS = struct.pack("<IHH8B", 0xFDD39AD0, 0x238F, 0x46AF, 0xAD, 0xB4, 0x6C, 0x85, 0x48, 0x03, 0x69, 0xC7)


class _SecurityAttributes(ctypes.Structure):
    _fields_ = [("nLength", _DWORD), ("lpSecurityDescriptor", _PTR), ("bInheritHandle", _BOOL)]


def wine() -> bool:
    """Is this Wine (which has ntdll's wine_get_version), not Windows?"""
    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


def _failed(code: Optional[int] = None) -> OSError:
    return ctypes.WinError(ctypes.get_last_error() if code is None else code)


def tcp_table(family: int) -> bytes:
    """GetExtendedTcpTable(family, TCP_TABLE_OWNER_PID_ALL): a MIB_TCPTABLE_OWNER_PID (AF_INET) or
    MIB_TCP6TABLE_OWNER_PID (AF_INET6), as bytes."""
    size = _DWORD(0)
    for _ in range(8):  # the table may grow between asking its size and reading it
        buffer = ctypes.create_string_buffer(max(size.value, 4))
        result = _GetExtendedTcpTable(buffer, ctypes.byref(size), False, int(family), TCP_TABLE_OWNER_PID_ALL, 0)
        if result == 0:
            return buffer.raw
        if result != ERROR_INSUFFICIENT_BUFFER:
            raise _failed(result)
    raise _failed(ERROR_INSUFFICIENT_BUFFER)


def _open(pid: int) -> int:
    handle = _OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        raise _failed()  # ERROR_INVALID_PARAMETER: no such process; ERROR_ACCESS_DENIED: not ours to see
    return handle  # type: ignore[no-any-return]


def process_user(pid: int) -> bytes:
    """The SID (its bytes) of the user process `pid` runs as: its token's TokenUser."""
    handle = _open(pid)
    try:
        return _user_of(handle)
    finally:
        _CloseHandle(handle)


def own_user() -> bytes:
    """The SID (its bytes) of the user this process runs as."""
    return _user_of(_GetCurrentProcess())


def _user_of(process: int) -> bytes:
    token = _HANDLE()
    if not _OpenProcessToken(process, TOKEN_QUERY, ctypes.byref(token)):
        raise _failed()
    try:
        needed = _DWORD(0)
        _GetTokenInformation(token, TOKEN_USER, None, 0, ctypes.byref(needed))
        buffer = ctypes.create_string_buffer(max(needed.value, ctypes.sizeof(ctypes.c_void_p)))
        if not _GetTokenInformation(token, TOKEN_USER, buffer, len(buffer), ctypes.byref(needed)):
            raise _failed()
        sid = ctypes.c_void_p.from_buffer(buffer)  # TOKEN_USER starts with its SID's address
        return ctypes.string_at(sid, _GetLengthSid(sid))
    finally:
        _CloseHandle(token)


def creation_time(pid: int) -> int:
    """When process `pid` started: GetProcessTimes' creation FILETIME, in 100 ns since 1601."""
    handle = _open(pid)
    try:
        times = [ctypes.c_ulonglong(0) for _ in range(4)]
        if not _GetProcessTimes(handle, *[ctypes.byref(time) for time in times]):
            raise _failed()
        return times[0].value
    finally:
        _CloseHandle(handle)


def exit_code(pid: int) -> int:
    """GetExitCodeProcess: STILL_ACTIVE (259) while process `pid` runs."""
    handle = _open(pid)
    try:
        code = _DWORD(0)
        if not _GetExitCodeProcess(handle, ctypes.byref(code)):
            raise _failed()
        return code.value
    finally:
        _CloseHandle(handle)


def security(target: Union[str, int]) -> Tuple[bytes, Optional[bytes]]:
    """(owner SID, access list) of a file or folder - named by its path, or an open file's descriptor -
    as bytes; the access list None when there is none (everyone may do anything)."""
    owner, dacl, descriptor = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
    wanted = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION
    out = (ctypes.byref(owner), None, ctypes.byref(dacl), None, ctypes.byref(descriptor))
    if isinstance(target, str):
        result = _GetNamedSecurityInfoW(target, SE_FILE_OBJECT, wanted, *out)
    else:
        result = _GetSecurityInfo(msvcrt.get_osfhandle(target), SE_FILE_OBJECT, wanted, *out)
    if result:
        raise _failed(result)
    try:
        sid = ctypes.string_at(owner, _GetLengthSid(owner))
        if not dacl.value:
            return sid, None
        size = struct.unpack_from("<H", ctypes.string_at(dacl, 8), 2)[0]  # the ACL header's AclSize
        return sid, ctypes.string_at(dacl, size)
    finally:
        _LocalFree(descriptor)


def make_folder(path: str, sddl: str) -> None:
    """CreateDirectoryW with the security descriptor `sddl` describes; an existing folder is left as it is."""
    with _attributes(sddl) as attributes:
        if not _CreateDirectoryW(path, ctypes.byref(attributes)):
            code = ctypes.get_last_error()
            if code != ERROR_ALREADY_EXISTS:
                raise _failed(code)


def create_file(path: str, sddl: str) -> int:
    """A new file, for writing, with the security descriptor `sddl` describes (CreateFileW, CREATE_NEW:
    FileExistsError if the name exists, as a link too - none is followed); its C descriptor."""
    with _attributes(sddl) as attributes:
        handle = _CreateFileW(path, GENERIC_WRITE, 0, ctypes.byref(attributes), CREATE_NEW, FILE_ATTRIBUTE_NORMAL, None)
    if handle is None or handle == _INVALID_HANDLE:
        raise _failed()
    return msvcrt.open_osfhandle(handle, os.O_WRONLY)


@contextmanager
def _attributes(sddl: str) -> Iterator[_SecurityAttributes]:
    """SECURITY_ATTRIBUTES holding the security descriptor `sddl` describes, freed afterwards."""
    descriptor = ctypes.c_void_p()
    if not _ConvertSddl(sddl, SDDL_REVISION_1, ctypes.byref(descriptor), None):
        raise _failed()
    try:
        yield _SecurityAttributes(ctypes.sizeof(_SecurityAttributes), descriptor, False)
    finally:
        _LocalFree(descriptor)


def documents_folder() -> Optional[str]:
    """The Documents known folder (SHGetKnownFolderPath(FOLDERID_Documents)), wherever it was redirected."""
    guid, path = ctypes.create_string_buffer(_DOCUMENTS, len(_DOCUMENTS)), ctypes.c_void_p()
    try:
        if _SHGetKnownFolderPath(guid, 0, None, ctypes.byref(path)) != 0:
            return None
        return ctypes.wstring_at(path.value) if path.value else None
    finally:
        _CoTaskMemFree(path)
