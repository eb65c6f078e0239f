#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kubectl, etcd) from the Go module proxy into a
# cache OUTSIDE the clone, keyed by the helper modules and the Go version, and prints the cache
# directory. A second run with the same key does nothing. Used by the Makefile and .ci/run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
key=$( (cat "$here"/apiserver/go.mod "$here"/apiserver/go.sum "$here"/etcd/go.mod "$here"/etcd/go.sum "$here"/build.sh; go version) | sha256sum | cut -c1-16)
root=${KUBENTLY_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubently/testbins}
dir="$root/$key"
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ] && [ -x "$dir/kubectl" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir.tmp"
k8sver=v1.37.2
ld="-s -w -X k8s.io/component-base/version.gitVersion=$k8sver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/client-go/pkg/version.gitVersion=$k8sver -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"
echo "building test control plane into $dir (kube-apiserver takes 7-15 min on 2 cores)" >&2
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$dir.tmp/etcd" go.etcd.io/etcd/server/v3) >&2
(cd "$here/apiserver" && go build -trimpath -ldflags "$ld" -o "$dir.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl) >&2
(cd "$here/apiserver" && go build -trimpath -ldflags "$ld" -o "$dir.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver) >&2
rm -rf "$dir" && mv "$dir.tmp" "$dir"
echo "$dir"
