"""Inside Houdini's process: the server, its rpyc hooks, dispatch to the main thread, jobs, events."""
