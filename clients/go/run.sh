#!/usr/bin/env bash
# Runs the Go CLI built by build.sh.
here=$(dirname "$0")
if [ ! -x "$here/bin/productsearch" ]; then
  echo "clients/go/bin/productsearch is not built: run clients/go/build.sh" >&2
  exit 127
fi
exec "$here/bin/productsearch" "$@"
