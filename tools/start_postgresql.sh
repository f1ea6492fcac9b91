#!/usr/bin/env bash
# PostgreSQL for the sign-up tests (.ci/run, as root): install it from apt if missing, start its cluster with
# pg_ctlcluster (no systemd here, and the server refuses to run as root: pg_ctlcluster runs it as postgres),
# make a role and a database for the tests, and print the URL to export as SANDBOX_TEST_DATABASE_URL.
# Everything but the URL goes to stderr. Run again, it reuses the cluster, the role and the database.
set -euo pipefail

ROLE=sandbox_ci
DATABASE=sandbox_ci
say() { printf 'postgresql: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    say "run as root (it installs from apt and starts the cluster as the postgres user)"
    exit 1
fi
if ! command -v pg_lsclusters >/dev/null 2>&1; then
    say "installing with apt-get: postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
# The first cluster (Debian's package makes "main" of its version): version, name, port.
read -r VERSION CLUSTER PORT STATUS _ < <(pg_lsclusters --no-header | head -1)
if [ -z "${VERSION:-}" ]; then
    say "no cluster: pg_createcluster <version> main"
    exit 1
fi
if [ "$STATUS" != online ]; then
    say "starting cluster $VERSION/$CLUSTER on port $PORT"
    pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi
psql_as_postgres() { runuser -u postgres -- psql --port "$PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }
PASSWORD="$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
if [ -z "$(psql_as_postgres -c "select 1 from pg_roles where rolname = '$ROLE'")" ]; then
    psql_as_postgres -c "create role $ROLE login" >&2
fi
psql_as_postgres -c "alter role $ROLE password '$PASSWORD'" >&2
if [ -z "$(psql_as_postgres -c "select 1 from pg_database where datname = '$DATABASE'")" ]; then
    psql_as_postgres -c "create database $DATABASE owner $ROLE" >&2
fi
say "cluster $VERSION/$CLUSTER on 127.0.0.1:$PORT, role and database $ROLE"
echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
