#!/usr/bin/env bash
# Makes a fresh machine ready for the test suite: installs redis-server when
# missing, builds the test control plane once into a cache outside the clone,
# and installs the pinned npm test clients. Prints the environment the tests
# need (KUBENTLY_TESTBINS=...), for eval or a Makefile include.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2
  # The package starts a system instance; the tests start their own.
  ($sudo systemctl stop redis-server || $sudo service redis-server stop || true) >/dev/null 2>&1
fi
bins=$("$root/hack/k8s-testbins/build.sh")
echo "KUBENTLY_TESTBINS=$bins"
if [ -f "$root/test/npm/package.json" ]; then
  (cd "$root/test/npm" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
