#!/usr/bin/env bash
# Build the C++ client: installs the Debian toolchain when missing, generates the stubs from
# ../../protos (CMake runs protoc + grpc_cpp_plugin) and builds build/productsearch.
# Idempotent: a second run only checks that everything is up to date.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"
packages=(cmake g++ make pkg-config protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "clients/cpp: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

# A build folder configured for another checkout (moved or copied) cannot be reused.
if [[ -f "$build/CMakeCache.txt" ]] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$here" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
# Configure once (a failed configure leaves no Makefile); later builds re-run CMake by themselves
# when CMakeLists.txt changes.
if [[ ! -f "$build/Makefile" ]]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
# At most two jobs: the build machines are small and shared.
cmake --build "$build" --parallel "${CPP_BUILD_JOBS:-2}"
