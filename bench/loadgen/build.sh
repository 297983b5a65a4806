#!/usr/bin/env bash
# Builds the load generator offline into bin/loadgen (gitignored), sharing the Go client's
# toolchain set-up and generated stubs (clients/go/goenv.sh, clients/go/gen). Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
source ../../clients/go/goenv.sh

go_install_toolchain
go_setup_env
[ -f ../../clients/go/gen/productsearch/v1/product_search.pb.go ] || ../../clients/go/build.sh

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt needed: $unformatted" >&2
  exit 1
fi
package=$GO_IMPORT_ROOT/bench/loadgen
go vet "$package"
go test -count=1 "$package"
mkdir -p bin
go build -trimpath -o bin/loadgen "$package"
echo "built $(pwd)/bin/loadgen"
