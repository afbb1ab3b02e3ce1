"""The REST front door: validates, commits to PostgreSQL, then starts or signals workflows."""
