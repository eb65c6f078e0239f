#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: dependencies, static
# checks, then every Go test with the race detector against the real
# apiserver/etcd, redis-server and npm clients. Any failure — and any skipped
# test — fails the run (hack/testsummary).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deps=$(./hack/test-deps.sh)
export "$(tail -n1 <<<"$deps")"
export K8S_TEST_REQUIRED=1 REDIS_TEST_REQUIRED=1 NPM_TEST_REQUIRED=1

unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed:"; echo "$unformatted"; exit 1
fi
go vet ./...

{
  rc=0
  go test -race -count=1 -json -timeout 45m ./... || rc=1
  # The policy's flag table against kubectl's own commands lives in a module
  # of its own (it keeps kubectl's command packages out of the main module).
  (cd internal/policy/kubectlcompat && go vet ./... && go test -race -count=1 -json -timeout 20m ./...) || rc=1
  exit $rc
} 2>&1 | go run ./hack/testsummary
