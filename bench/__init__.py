"""Herald's load benchmark (`make bench`, `python -m bench.run`): messages through the running
stack against a bare one-activity Temporal baseline on the same server. Not a test."""
