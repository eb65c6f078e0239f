// Package e2e tests Kubently end to end over real processes: the
// kubently-api and kubently-executor binaries (built once per run with the
// race detector) talking over loopback HTTP, and a real kube-apiserver and
// etcd from internal/k8stest reached with the executor's read-only
// ServiceAccount token.
//
// The tests prove three things the issue tracker asked for:
//
//   - every supported command type, sent to POST /debug/execute, prints what
//     the kubectl binary prints with the same credentials (golden_test.go);
//   - refused commands (writes, flag smuggling, secret reads, exec in
//     readOnly) are answered 403, audited as denied and cause zero requests
//     at the Kubernetes API, counted from the apiserver's audit log
//     (refusal_test.go);
//   - the system recovers by itself from an executor killed mid-command, an
//     API restart, a revoked token and a silent (blackholed) connection, and
//     no request waits past its deadline (resilience_test.go).
//
// Run with KUBENTLY_TESTBINS pointing at the control-plane binaries (see
// hack/k8s-testbins); without them the package is skipped unless
// K8S_TEST_REQUIRED=1.
package e2e
