// Package k8stest starts a real Kubernetes control plane for tests: an etcd and a
// kube-apiserver process (v1.37.2, built by hack/k8s-testbins/build.sh) on free loopback
// ports, with PKI generated in Go, RBAC authorization and ServiceAccount tokens that work.
//
// There is no kubelet, scheduler or controller-manager. Two small in-process stand-ins fill
// the gaps that kubectl debugging needs:
//
//   - Kubelet: an HTTPS server that the apiserver proxies pods/log to (via Nodes created with
//     ControlPlane.Node), so `kubectl logs` works with the kubelet's semantics for tailLines,
//     sinceSeconds, sinceTime, timestamps, previous and limitBytes.
//   - Metrics: a metrics.k8s.io/v1beta1 server registered through an APIService, so
//     `kubectl top pods` and `kubectl top nodes` work.
//
// The apiserver writes every request at Metadata level to an audit log (AuditEvents,
// RequestsBy, AuditSync), so tests can prove what an identity such as the executor's
// ServiceAccount (ExecutorUser) did, or that it made no request at all.
//
// Without controllers, Deployments never get Pods and Namespaces never finish deleting:
// fixtures create every object themselves, write status through the status subresource,
// and use ControlPlane.NewNamespace for isolation.
//
// The binaries are found in the directory named by KUBENTLY_TESTBINS. When it is unset or
// incomplete, RunMain skips the package's tests with a message, or fails the test binary
// when K8S_TEST_REQUIRED=1 (CI sets it, so a missing build never passes silently).
//
// Typical use, one control plane per test binary:
//
//	var cp *k8stest.ControlPlane
//
//	func TestMain(m *testing.M) {
//		os.Exit(k8stest.RunMain(m, func(c *k8stest.ControlPlane) error { cp = c; return nil }))
//	}
package k8stest
