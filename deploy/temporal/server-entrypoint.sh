#!/bin/sh
# Starts the temporalio/server image's own entrypoint with the PostgreSQL password read from
# the Docker secret: the server's embedded config template reads it from POSTGRES_PWD only,
# and a plain variable in docker-compose.yml would show it to anyone who can inspect the
# container's configuration.
set -eu
: "${POSTGRES_PWD_FILE:?set POSTGRES_PWD_FILE to the file holding the password}"
POSTGRES_PWD=$(cat "$POSTGRES_PWD_FILE")
export POSTGRES_PWD
exec /etc/temporal/entrypoint.sh "$@"
