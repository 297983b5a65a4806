#!/bin/sh
# Reads the PostgreSQL password from a file (a Docker secret) into libpq's PGPASSWORD, so
# that it is in neither the compose file nor the gateway's command line, then runs the
# command. libpq (psycopg) takes PGPASSWORD for any conninfo that carries no password.
set -eu
if [ -n "${PGPASSWORD_FILE:-}" ]; then
    PGPASSWORD="$(cat "$PGPASSWORD_FILE")"
    export PGPASSWORD
    unset PGPASSWORD_FILE
fi
exec "$@"
