"""Inside Houdini's process: the server, its gate, its rpyc hooks, dispatch to the main thread, jobs, events."""
