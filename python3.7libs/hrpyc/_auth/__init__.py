"""Both sides: who may use a server - the token, TLS, and the challenge both ends take part in."""
