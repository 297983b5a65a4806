#!/usr/bin/env bash
# Runs the Python client's CLI from the repository's .venv (build.sh installs it there).
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/../../.venv/bin/python" -m productsearch_client "$@"
