# Sourced by clients/go/build.sh and bench/loadgen/build.sh: an offline Go build against
# Debian's Go packages in /usr/share/gocode, in GOPATH mode.
#
# Why GOPATH mode: Debian ships gRPC 1.33 and protobuf as source under /usr/share/gocode/src
# without module zips or go.sum hashes, and the module proxy is unreachable here. Module mode
# would need every module in the dependency graph (grpc's go.mod names envoy, cncf/udpa, ...)
# even with `replace`; GOPATH mode needs only the packages actually imported, which Debian has.
# So GOPATH = a small farm of symlinks that puts this repository's Go packages at their import
# paths (github.com/productsearch/productsearch/...), then /usr/share/gocode for the rest.
# The go.mod files stay valid for module-mode builds online (`go mod tidy` first).

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GO_IMPORT_ROOT=github.com/productsearch/productsearch
GO_FARM=$REPO_ROOT/clients/go/.gopath
GO_PACKAGE_DIRS=(clients/go/client clients/go/cmd clients/go/gen bench/loadgen)

# Debian packages the Go build needs. golang-github-golang-protobuf-1-5-dev (the APIv2 shim)
# replaces the 1-3 package apt would otherwise pick for grpc: protoc-gen-go 1.28 writes APIv2 code.
GO_DEBIAN_PACKAGES=(golang-go golang-google-grpc-dev golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev golang-google-genproto-dev
  protobuf-compiler protoc-gen-go protoc-gen-go-grpc)

go_install_toolchain() {
  local missing=()
  local package
  for package in "${GO_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

go_setup_env() {
  local dir
  for dir in "${GO_PACKAGE_DIRS[@]}"; do
    local link=$GO_FARM/src/$GO_IMPORT_ROOT/$dir
    mkdir -p "$(dirname "$link")"
    ln -sfn "$REPO_ROOT/$dir" "$link"
  done
  export GO111MODULE=off
  export GOPATH=$GO_FARM:/usr/share/gocode
  export GOCACHE=${GOCACHE:-$GO_FARM/cache}
  export GOFLAGS=
  export GOPROXY=off
  export CGO_ENABLED=0
}
