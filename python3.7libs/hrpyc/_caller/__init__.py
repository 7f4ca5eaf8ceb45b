"""In the caller's Python (Maya, Nuke, a script): connecting, the token challenge, the connection, jobs'
handles, bulk transfers."""
