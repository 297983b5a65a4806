#!/usr/bin/env bash
# Build the Node.js client: install Node (Debian's nodejs/npm) when missing, `npm ci` when
# package-lock.json changed, regenerate the proto types in gen/ (committed: CI diffs them),
# compile with tsc to dist/ and copy the proto next to it. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 18 ]; then
    echo "clients/node needs Node.js 18 or newer, found $(node --version)" >&2
    exit 1
fi

# npm ci only when node_modules was not installed from these exact package files.
stamp=node_modules/.ci-stamp
lock_sum="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > "$stamp"
fi

# Types for what @grpc/proto-loader returns; the flags match LOADER_OPTIONS in src/client.ts.
# Relative paths only, so the output is the same on every machine.
generated="$(mktemp -d)"
trap 'rm -rf "$generated"' EXIT
node_modules/.bin/proto-loader-gen-types --longs=String --enums=String --defaults --oneofs \
    --includeComments --grpcLib=@grpc/grpc-js --outDir="$generated" \
    productsearch/v1/product_search.proto --includeDirs=../../protos >/dev/null
if ! diff -r -q "$generated" gen >/dev/null 2>&1; then
    rm -rf gen
    cp -r "$generated" gen
    chmod -R u=rwX,go=rX gen
    echo "regenerated clients/node/gen/"
fi

node_modules/.bin/tsc -p tsconfig.json
mkdir -p dist/protos/productsearch/v1
cp ../../protos/productsearch/v1/product_search.proto dist/protos/productsearch/v1/
chmod +x dist/src/cli.js
