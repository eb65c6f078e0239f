#!/usr/bin/env bash
# `make run`: starts kubently-api on its embedded store and, when a Kubernetes
# cluster is reachable through KUBECONFIG or ~/.kube/config, registers it and
# starts an executor for it. Ctrl-C stops both.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${KUBENTLY_DATA_DIR:-$root/data}
listen=${KUBENTLY_LISTEN:-127.0.0.1:8080}
cluster=${CLUSTER_ID:-local}
mkdir -p "$data"
chmod 700 "$data"
if [ -z "${API_KEYS:-}" ]; then
  keyfile="$data/dev-admin-key"
  [ -s "$keyfile" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$keyfile")
  export API_KEYS="admin:$(cat "$keyfile"):admin"
  echo "admin API key (also in $keyfile): $(cat "$keyfile")"
fi
admin_key=$(echo "$API_KEYS" | tr ',\n' '\n\n' | awk -F: '$3=="admin"{print $2; exit}')
export KUBENTLY_DATA_DIR=$data KUBENTLY_LISTEN=$listen LOG_FORMAT=${LOG_FORMAT:-text}
"$root/bin/kubently-api" & api=$!
pids=$api
trap 'kill $pids 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
url="http://$listen"
for _ in $(seq 50); do curl -fsS "$url/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$url/readyz" >/dev/null || { echo "kubently-api did not become ready" >&2; exit 1; }
echo "Kubently API on $url (docs: $url/docs)"
kubeconfig=${KUBECONFIG:-$HOME/.kube/config}
if [ -f "$kubeconfig" ] && [ -n "$admin_key" ]; then
  tokfile="$data/executor-token-$cluster"
  if [ ! -s "$tokfile" ]; then
    body=$(curl -fsS -X POST -H "X-API-Key: $admin_key" "$url/admin/agents/$cluster/token") || {
      echo "cluster $cluster already has a token but $tokfile is missing; revoke it with: curl -X DELETE -H 'X-API-Key: …' $url/admin/agents/$cluster/token" >&2; wait $api; exit 1; }
    (umask 077; echo "$body" | sed -E 's/.*"token":"([^"]+)".*/\1/' > "$tokfile")
  fi
  KUBECONFIG=$kubeconfig KUBENTLY_API_URL=$url CLUSTER_ID=$cluster KUBENTLY_TOKEN_FILE=$tokfile \
    "$root/bin/kubently-executor" & pids="$pids $!"
  echo "executor for cluster '$cluster' started (kubeconfig $kubeconfig)"
else
  echo "no kubeconfig found: running the API alone (set KUBECONFIG to attach a cluster)"
fi
wait $api
