"""hython serving as SideFX documents for a Houdini without a UI: `hrpyc.start_server(use_thread=False)`
on its main thread, until Ctrl-C. It says where it serves from the server's `started` event, since the
call itself only returns once the server stops."""

import hou  # noqa: F401  (hython loads hou before any script runs; the stand-in has no UI)

import hrpyc


def announce(event):
    if event.kind == "started":
        host, port = event.server
        print("serving on {}:{} (dispatch: unknown)".format(host, port), flush=True)


hrpyc.subscribe(announce)
hrpyc.start_server(port=0, use_thread=False)
print("stopped", flush=True)
