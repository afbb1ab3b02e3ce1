"""What Herald does on request, whoever asks: the API's routes, the CLI and the console all
call these, one module per concern (idempotent submits, sequencing, workflow starts, the
outbox relay, actions on messages, rate limits, tenants and keys)."""
