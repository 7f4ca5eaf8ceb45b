"""Both sides: who may use a server: this user's auto token (tokens), the challenge both ends take part in
(proof), and TLS (tls). The server's gate is in _server, our client's side of it in _caller."""
