#!/bin/sh
# Writes the secret files docker-compose.yml mounts as Docker secrets, with fresh random
# values, into ./secrets (or the directory given): README.md, "Production-like stack".
#
#   sh deploy/generate-secrets.sh            # then: docker compose up --build
#
# A file that exists is kept, so running it again never changes a password PostgreSQL's
# volume already holds. The directory is private to you (0700); the files in it are 0644
# because Compose bind-mounts them into containers that run as other users (postgres,
# temporal, herald, grafana), which must be able to read them.
set -eu

dir=${1:-secrets}
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

random_hex() {  # $1 bytes, as hex
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

random_base64() {  # $1 bytes, as standard base64
    head -c "$1" /dev/urandom | base64 | tr -d '\n'
}

write() {  # $1 file name, $2 content; keeps an existing file
    if [ -s "$dir/$1" ]; then
        echo "kept    $dir/$1"
    else
        printf '%s' "$2" >"$dir/$1"  # no newline: not every image strips one
        echo "created $dir/$1"
    fi
    chmod 644 "$dir/$1"
}

write postgres_password "$(random_hex 24)"
# The database URL carries the password: built from the file, so the two always agree.
write database_url "postgresql://herald:$(cat "$dir/postgres_password")@postgres:5432/herald"
# Comma-separated bootstrap admin keys of the tenant `default`; add more with a comma.
write api_keys "$(random_hex 32)"
# Standard Webhooks secrets (whsec_<base64>): Herald signs deliveries with the provider
# secret; the gateway signs its ack callbacks with the gateway secret.
write provider_secret "whsec_$(random_base64 32)"
write gateway_secret "whsec_$(random_base64 32)"
write grafana_admin_password "$(random_hex 16)"
