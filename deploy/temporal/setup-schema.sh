#!/bin/sh
# The `temporal-schema` one-shot of docker-compose.yml (image temporalio/admin-tools, the same
# version as the server): creates Temporal's two databases on the stack's PostgreSQL and brings
# both schemas, persistence and visibility, to the version this admin-tools release ships.
# Safe to run again: an existing database is kept, and update-schema applies only the missing
# versions (which is also how a server upgrade migrates them: bump both image tags, `up`).
set -eu

: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${POSTGRES_PWD_FILE:?set POSTGRES_PWD_FILE to the file holding the password}"

# temporal-sql-tool reads the password from SQL_PASSWORD; it comes from the secret file so it
# never sits in the container's configuration.
SQL_PASSWORD=$(cat "$POSTGRES_PWD_FILE")
export SQL_PASSWORD

schemas=/etc/temporal/schema/postgresql/v12

sql_tool() {
    temporal-sql-tool --plugin postgres12 --endpoint "$POSTGRES_SEEDS" \
        --port "${DB_PORT:-5432}" --user "$POSTGRES_USER" "$@"
}

for database in temporal temporal_visibility; do
    case $database in
        temporal) versioned=$schemas/temporal/versioned ;;
        *) versioned=$schemas/visibility/versioned ;;
    esac
    echo "schema of $database: create, set up, update to the latest version"
    sql_tool --database "$database" create-database
    sql_tool --database "$database" setup-schema --version 0.0
    sql_tool --database "$database" update-schema --schema-dir "$versioned"
done
echo "Temporal schemas ready"
