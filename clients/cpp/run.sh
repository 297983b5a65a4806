#!/usr/bin/env bash
# Run the C++ client's CLI (build it first with build.sh).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ ! -x "$here/build/productsearch" ]]; then
  echo "clients/cpp is not built: run clients/cpp/build.sh" >&2
  exit 127
fi
exec "$here/build/productsearch" "$@"
