#!/usr/bin/env bash
# Proves that a real client, kubectl, works against the stand-in API server (kube-apiserver.py):
# server-side apply with field ownership and conflicts, server dry-run, diff, scale, edit, delete,
# authentication and authorization failures. Needs kubectl, openssl, curl and python3.
# usage: kube-apiserver-kubectl-check.sh        (prints "kubectl check: OK" on success)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "kubectl check FAILED: $*" >&2
    if [[ -s "$work/server.err" ]]; then
        echo "--- stand-in stderr:" >&2
        cat "$work/server.err" >&2
    fi
    exit 1
}

# expect_output WHAT PATTERN -- COMMAND...: runs COMMAND (which must succeed) and greps its output.
expect_output() {
    local what="$1" pattern="$2"
    shift 3
    local out
    out="$("$@" 2>&1)" || fail "$what: '$*' exited non-zero: $out"
    grep -qE -- "$pattern" <<<"$out" || fail "$what: expected /$pattern/ in output of '$*', got: $out"
}

# expect_failure WHAT PATTERN -- COMMAND...: runs COMMAND (which must fail) and greps its output.
expect_failure() {
    local what="$1" pattern="$2"
    shift 3
    local out
    if out="$("$@" 2>&1)"; then
        fail "$what: '$*' succeeded but should have failed: $out"
    fi
    grep -qE -- "$pattern" <<<"$out" || fail "$what: expected /$pattern/ in output of '$*', got: $out"
}

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null || fail "openssl could not make a certificate"

python3 "$here/kube-apiserver.py" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --token check-token \
    --kubeconfig-out "$work/kubeconfig" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
    port="$(sed -n 's/^PORT=//p' "$work/server.out")"
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "the stand-in exited before listening"
    sleep 0.1
done
[[ -n "$port" ]] || fail "the stand-in never printed PORT="
control="https://127.0.0.1:$port/_standin"

export KUBECONFIG="$work/kubeconfig"
export KUBECACHEDIR="$work/kube-cache"  # fresh discovery cache, never the user's

cat >"$work/namespace.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: demo
EOF
cat >"$work/app.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
data:
  greeting: hello
EOF
sed 's/replicas: 2/replicas: 4/' "$work/app.yaml" >"$work/app-changed.yaml"

replicas() { kubectl get deploy web -n demo -o jsonpath='{.spec.replicas}'; }

# 1. Server-side apply creates the objects, owned by the tributary manager. (`kubectl create namespace`
#    is not used: kubectl's typed clients send protobuf, which the stand-in does not speak.)
expect_output "apply namespace" "namespace/demo serverside-applied" -- \
    kubectl apply --server-side --field-manager=tributary -f "$work/namespace.yaml"
expect_output "apply app" "deployment.apps/web serverside-applied" -- \
    kubectl apply --server-side --field-manager=tributary -f "$work/app.yaml"
listing="$(kubectl get deploy,svc,cm -n demo -o name)" || fail "kubectl get deploy,svc,cm failed"
for name in deployment.apps/web service/web configmap/settings; do
    grep -qx "$name" <<<"$listing" || fail "list: $name missing from: $listing"
done
managed="$(kubectl get deploy web -n demo -o yaml --show-managed-fields)" || fail "get -o yaml failed"
grep -qE "manager: tributary" <<<"$managed" || fail "managed fields: no tributary manager in: $managed"
grep -qE "operation: Apply" <<<"$managed" || fail "managed fields: no Apply operation in: $managed"
grep -qE "f:replicas: \{\}" <<<"$managed" || fail "managed fields: .spec.replicas not owned in: $managed"

# 2. Server dry-run persists nothing, for client-side and server-side apply.
expect_output "client-side apply dry-run" "deployment.apps/web configured \(server dry run\)" -- \
    kubectl apply --dry-run=server -f "$work/app-changed.yaml"
[[ "$(replicas)" == "2" ]] || fail "client-side apply --dry-run=server persisted replicas=$(replicas)"
expect_output "server-side apply dry-run" "deployment.apps/web serverside-applied \(server dry run\)" -- \
    kubectl apply --server-side --field-manager=tributary --dry-run=server -f "$work/app-changed.yaml"
[[ "$(replicas)" == "2" ]] || fail "server-side apply --dry-run=server persisted replicas=$(replicas)"

# 3. kubectl diff: exit 1 and the changed field for a change, exit 0 for none.
set +e
diff_out="$(kubectl diff --server-side --field-manager=tributary -f "$work/app-changed.yaml" 2>&1)"
diff_rc=$?
set -e
[[ $diff_rc -eq 1 ]] || fail "diff of a changed manifest exited $diff_rc (want 1): $diff_out"
grep -qE '^\+  replicas: 4' <<<"$diff_out" || fail "diff does not show '+  replicas: 4': $diff_out"
grep -qE '^-  replicas: 2' <<<"$diff_out" || fail "diff does not show '-  replicas: 2': $diff_out"
expect_output "diff of the unchanged manifest" "" -- \
    kubectl diff --server-side --field-manager=tributary -f "$work/app.yaml"

# 4. kubectl scale takes .spec.replicas; applying the old value conflicts until forced.
expect_output "scale" "deployment.apps/web scaled" -- kubectl scale deploy web -n demo --replicas=5
[[ "$(replicas)" == "5" ]] || fail "scale: replicas is $(replicas), want 5"
expect_failure "apply after scale" 'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: \.spec\.replicas' -- \
    kubectl apply --server-side --field-manager=tributary -f "$work/app.yaml"
expect_output "forced apply" "deployment.apps/web serverside-applied" -- \
    kubectl apply --server-side --field-manager=tributary --force-conflicts -f "$work/app.yaml"
[[ "$(replicas)" == "2" ]] || fail "forced apply: replicas is $(replicas), want 2"

# 5. kubectl edit (a strategic merge patch from the edited YAML).
KUBE_EDITOR='sed -i "s/^  replicas: 2$/  replicas: 3/"' \
    expect_output "edit" "deployment.apps/web edited" -- kubectl edit deploy web -n demo
[[ "$(replicas)" == "3" ]] || fail "edit: replicas is $(replicas), want 3"
expect_output "edit manager" "manager: kubectl-edit" -- kubectl get deploy web -n demo -o yaml --show-managed-fields

# 6. Delete, then NotFound.
expect_output "delete" 'configmap "settings" deleted' -- kubectl delete cm -n demo settings
expect_failure "get deleted" 'Error from server \(NotFound\): configmaps "settings" not found' -- \
    kubectl get cm settings -n demo

# 7. Authentication and authorization failures.
expect_failure "wrong token" "Unauthorized" -- kubectl --token=wrong get ns
curl -sSf --cacert "$work/cert.pem" -X POST "$control/forbid" \
    -d '{"verb": "list", "resource": "configmaps", "namespace": "demo"}' >/dev/null || fail "control endpoint /forbid"
expect_failure "forbidden list" 'Error from server \(Forbidden\): configmaps is forbidden: User "system:serviceaccount:tributary:tributary" cannot list resource "configmaps" in API group "" in the namespace "demo"' -- \
    kubectl get cm -n demo
curl -sSf --cacert "$work/cert.pem" -X DELETE "$control/forbid" >/dev/null || fail "control endpoint DELETE /forbid"
expect_output "list after clearing rules" "No resources found|NAME" -- kubectl get cm -n demo

if [[ -s "$work/server.err" ]]; then
    fail "the stand-in wrote to stderr"
fi
echo "kubectl check: OK"
