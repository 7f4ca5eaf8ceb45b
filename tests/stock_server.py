"""A stock rpyc server, as SideFX's hrpyc.start_server starts one in Houdini, bound to loopback: rpyc's
ThreadedServer serving the classic SlaveService with rpyc's defaults. The tests and bench/ share it.

    python tests/stock_server.py [--service slave|classic|MODULE:CLASS]

prints `serving on 127.0.0.1:PORT` once it listens, then serves until it is killed. It needs only rpyc
(any version, Python 3.7 on), so a bare client virtualenv can run it. From Python, StockServer starts it
in its own process with a given interpreter; a test script can also define a service of its own in
__main__ and hand it to serve().
"""

import argparse
import importlib
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "standin")  # the stand-in `hou`, served as a Houdini would serve its own


def serve(service):
    """Serve `service` as SideFX's hrpyc.start_server does, on a free port of 127.0.0.1; never returns."""
    from rpyc.utils.server import ThreadedServer

    server = ThreadedServer(service, hostname="127.0.0.1", port=0, reuse_addr=True, protocol_config={})
    server._listen()  # listening before it says so: a client may connect as soon as it reads the port
    print("serving on 127.0.0.1:%d" % server.port, flush=True)
    server.start()


def service_class(name):
    """'slave' (SideFX's choice: rpyc.utils.classic.SlaveService), 'classic' (rpyc.classic.ClassicService, the
    same service under its newer name), or MODULE:CLASS importable from here."""
    if name == "slave":
        from rpyc.utils.classic import SlaveService

        return SlaveService
    if name == "classic":
        from rpyc.utils.classic import ClassicService

        return ClassicService
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


class StockServer(object):
    """tests/stock_server.py in its own process: `python` (default: this one) serving `service`, or
    `python -c code` where the code calls serve(). The stand-in hou is importable there."""

    def __init__(self, python=sys.executable, service="slave", code=None, env=None):
        argv = [python, "-c", code] if code else [python, os.path.join(HERE, "stock_server.py"), "--service", service]
        env = dict(os.environ if env is None else env)
        env["PYTHONPATH"] = os.pathsep.join([HERE, STANDIN, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, universal_newlines=True)
        line = self.proc.stdout.readline()
        match = re.match(r"serving on ([\d.]+):(\d+)", line)
        if not match:
            self.close()
            raise RuntimeError("the stock rpyc server did not start: {!r}".format(line))
        self.host, self.port = match.group(1), int(match.group(2))

    @property
    def address(self):
        return self.host, self.port

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def main():
    parser = argparse.ArgumentParser(description="a stock rpyc server on 127.0.0.1, as SideFX's hrpyc starts one")
    parser.add_argument("--service", default="slave", help="slave (default, as SideFX), classic, or MODULE:CLASS")
    serve(service_class(parser.parse_args().service))


if __name__ == "__main__":
    main()
