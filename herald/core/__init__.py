"""Herald's shared core: the sandbox-safe contract, settings, database models and sessions."""
