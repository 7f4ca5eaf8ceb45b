"""A graphical Houdini session, played by the stand-ins: hou with a UI, hdefereval, and Houdini's
event loop on the main thread. Starts hrpyc as a user would, then obeys lines on stdin:
`stop` stops the server, `dismiss` answers a modal dialog, `esc` presses Esc, `quit` (or end of input)
ends the session, printing the hou calls made."""

import json
import os
import sys
import threading

os.environ["HOU_STANDIN_UI"] = "1"
import hdefereval
import hou

import hrpyc

# A tool that took the name before hrpyc started, as `from hdefereval import ...` at import does.
taken_early = hdefereval.executeInMainThreadWithResult

WAITING = ("executeInMainThreadWithResult", "execute_in_main_thread_with_result", "_queueDeferred")
made_by_houdini = [getattr(hdefereval, name) for name in WAITING]
server = hrpyc.start_server(port=0)
print("serving on {}:{} (dispatch: {})".format(server.address[0], server.address[1], server.dispatch), flush=True)


def commands():
    for line in sys.stdin:
        if line.strip() == "stop":
            hrpyc.stop_server()
            print("stopped", flush=True)
        elif line.strip() == "dismiss":  # the user answers the modal dialog open
            hou.ui.standin_dismiss()
        elif line.strip() == "esc":  # the artist presses Esc
            hou.standin_press_escape()
        elif line.strip() == "quit":
            break
    hdefereval.standin_quit()


threading.Thread(target=commands, daemon=True).start()
hdefereval.standin_main_loop()
now = [getattr(hdefereval, name) for name in WAITING]
print("hdefereval as Houdini made it: {}".format(now == made_by_houdini), flush=True)
print("calls " + json.dumps(hou.standin_calls), flush=True)
