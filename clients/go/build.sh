#!/usr/bin/env bash
# Builds the Go client offline: Debian's Go 1.19 and gRPC 1.33 (installed when missing),
# stubs regenerated into gen/ (committed; deterministic, so CI can diff them), the CLI into
# bin/productsearch (gitignored). Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
source ./goenv.sh

go_install_toolchain
go_setup_env

# Stubs: the proto's go_package names gen/go at the repository root; the M options place the
# package here instead, under the import path of this module.
proto=productsearch/v1/product_search.proto
mapping="M$proto=$GO_IMPORT_ROOT/clients/go/gen/productsearch/v1;productsearchv1"
rm -rf gen/productsearch
mkdir -p gen
protoc -I "$REPO_ROOT/protos" \
  --go_out=gen --go_opt=paths=source_relative --go_opt="$mapping" \
  --go-grpc_out=gen --go-grpc_opt=paths=source_relative --go-grpc_opt="$mapping" \
  "$REPO_ROOT/protos/$proto"

unformatted=$(gofmt -l client cmd)
if [ -n "$unformatted" ]; then
  echo "gofmt needed: $unformatted" >&2
  exit 1
fi
packages=("$GO_IMPORT_ROOT/clients/go/client" "$GO_IMPORT_ROOT/clients/go/cmd/productsearch")
go vet "${packages[@]}"
go test -count=1 "${packages[@]}"
mkdir -p bin
go build -trimpath -o bin/productsearch "$GO_IMPORT_ROOT/clients/go/cmd/productsearch"
echo "built $(pwd)/bin/productsearch ($(go version | cut -d' ' -f3))"
