"""In the caller's Python (Maya, Nuke, a script): connecting, the connection, jobs' handles, bulk transfers."""
