#!/usr/bin/env bash
# Builds the Python client: regenerates its stubs (generate.sh) and installs the package,
# editable, into the repository's .venv (made by `make setup` when missing). Idempotent.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY="$ROOT/.venv/bin/python"

if [ ! -x "$PY" ] || ! "$PY" -c "import grpc_tools" 2>/dev/null; then
  make -C "$ROOT" setup
fi
PY="$PY" "$HERE/generate.sh"

# Reinstall only when the package metadata changed (an editable install sees code changes).
stamp="$ROOT/.venv/.productsearch-client-installed"
if [ ! -f "$stamp" ] || [ "$HERE/pyproject.toml" -nt "$stamp" ] || ! "$PY" -c "import productsearch_client" 2>/dev/null; then
  "$PY" -m pip install -q -e "$HERE"
  touch "$stamp"
fi
"$PY" -m productsearch_client --help >/dev/null
echo "clients/python: built ($("$PY" -c 'import productsearch_client as p; print(p.__file__)'))"
