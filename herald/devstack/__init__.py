"""The local stack that `herald dev` and the tests run: embedded PostgreSQL, the Temporal dev
server and the provider simulator, each a child process or an in-process server."""
