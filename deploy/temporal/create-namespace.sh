#!/bin/sh
# The `temporal-namespace` one-shot of docker-compose.yml (image temporalio/admin-tools): waits
# until the Temporal server reports healthy, creates Herald's namespace unless it exists, and
# registers Herald's search attributes on it (`herald migrate` registers them too; both are
# idempotent). Keep the names in step with SEARCH_ATTRIBUTES in herald/core/temporal.py;
# tests/test_compose.py checks that they are.
set -eu

: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS to the frontend, host:port}"
namespace=${TEMPORAL_NAMESPACE:-default}
retention=${TEMPORAL_NAMESPACE_RETENTION:-72h}
attempts=${TEMPORAL_HEALTH_ATTEMPTS:-60}

# retry WHAT COMMAND...: run COMMAND until it succeeds, every 2 s, at most $attempts times.
retry() {
    what=$1
    shift
    attempt=1
    until "$@"; do
        if [ "$attempt" -ge "$attempts" ]; then
            echo "$what failed $attempts times" >&2
            exit 1
        fi
        attempt=$((attempt + 1))
        sleep 2
    done
}

retry "the health check of Temporal at $TEMPORAL_ADDRESS" \
    temporal operator cluster health --address "$TEMPORAL_ADDRESS"

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" \
    --namespace "$namespace" >/dev/null 2>&1; then
    echo "namespace $namespace exists"
else
    temporal operator namespace create --address "$TEMPORAL_ADDRESS" \
        --namespace "$namespace" --retention "$retention"
    echo "namespace $namespace created (retention $retention)"
fi

# An attribute already registered with this type is kept as it is. A namespace just created
# is "not found" here until the frontend's namespace cache refreshes (seconds): try again.
# One --type per --name: the CLI pairs them in order.
retry "registering the search attributes on $namespace" \
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" \
    --namespace "$namespace" \
    --name MessageStatus --type Keyword \
    --name Recipient --type Keyword \
    --name MessagePriority --type Keyword
echo "search attributes registered on $namespace"
