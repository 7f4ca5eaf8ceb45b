"""Both sides: every difference between the OSes hrpyc runs on (Linux, Windows, macOS), in one place.

One module per concern. Each decision is a function of what the OS gives (a table's bytes, a struct, an
environment value, an error number), so tests feed every OS's inputs on any OS; the calls into the OS
are in `linux` (netlink, /proc), `win32` (ctypes) and `darwin` (libproc) alone, each imported only there.
`system.NAME` picks the branch.

    owner     who holds the other end of a loopback connection: client_owner, server_owner, listener_owner
    process   a process's start time and liveness: started, alive
    private   a folder and files only this user may change (or read): make_folder, folder_problem, file_problem
    folders   Houdini's preference folder: preference_pattern
    sockets   error numbers, bind options, cutting a socket: accept_error, bind_error, exclusive, cut
    console   text that always prints, Ctrl-C: never_unencodable, say, interrupts, break_interrupts,
              child_options, interrupt
    interpreter   a Python to start a child with, never the Microsoft Store's stub: for_child, store_alias
    linux, win32, darwin   what is asked of Linux, Windows and macOS; system: which OS this is
"""
