#!/usr/bin/env bash
# Regenerates the Python gRPC code from protos/ into gen/python/ (committed; CI diffs it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
rm -rf gen/python/productsearch
mkdir -p gen/python
"$PY" -m grpc_tools.protoc -I protos \
  --python_out=gen/python --pyi_out=gen/python --grpc_python_out=gen/python \
  protos/productsearch/v1/product_search.proto
touch gen/python/productsearch/__init__.py gen/python/productsearch/v1/__init__.py
