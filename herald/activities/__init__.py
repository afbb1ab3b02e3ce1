"""Side effects: the provider call and the database projection of each message."""
