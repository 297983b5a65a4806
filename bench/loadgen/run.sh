#!/usr/bin/env bash
# Runs the load generator built by build.sh; see `run.sh -h`.
here=$(dirname "$0")
if [ ! -x "$here/bin/loadgen" ]; then
  echo "bench/loadgen/bin/loadgen is not built: run bench/loadgen/build.sh" >&2
  exit 127
fi
exec "$here/bin/loadgen" "$@"
