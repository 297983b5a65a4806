#!/usr/bin/env bash
# Run the Node.js productsearch CLI built by build.sh.
set -euo pipefail
cli="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/dist/src/cli.js"
if [ ! -f "$cli" ]; then
    echo "clients/node is not built: run clients/node/build.sh" >&2
    exit 127
fi
exec node "$cli" "$@"
