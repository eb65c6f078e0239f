package k8stest_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubently/kubently/internal/k8stest"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// cp is the control plane shared by the tests of this package.
var cp *k8stest.ControlPlane

func TestMain(m *testing.M) {
	if os.Getenv(childModeEnv) != "" {
		// Re-executed by a test in this package as a child: no shared control plane.
		os.Exit(m.Run())
	}
	os.Exit(k8stest.RunMain(m, func(c *k8stest.ControlPlane) error { cp = c; return nil }))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// executorClient returns a clientset authenticated as the read-only executor ServiceAccount.
func executorClient(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	kubeconfig, cfg, err := cp.ReadOnlyServiceAccount(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, kubeconfig
}

// runningPod creates a pod bound to node with running containers, as a kubelet would report it.
func runningPod(t *testing.T, ns, name, node string, labels map[string]string, containers ...string) *corev1.Pod {
	t.Helper()
	ctx := testContext(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Spec: corev1.PodSpec{NodeName: node}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "registry.example/" + c + ":1"})
	}
	pods := cp.AdminClient().CoreV1().Pods(ns)
	pod, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	for _, c := range containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, Ready: true, ContainerID: "containerd://" + name + "-" + c, Image: "registry.example/" + c + ":1",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
		})
	}
	if pod, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return pod
}

func kubectl(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	out, errOut, err := cp.Kubectl(testContext(t), kubeconfig, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func TestReadOnlyServiceAccountCanReadButNotWrite(t *testing.T) {
	ctx := testContext(t)
	ns := cp.NewNamespace(t)
	sa, _ := executorClient(t)

	if _, err := cp.AdminClient().CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "hunter2"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node := "ro-node"
	if _, err := cp.Node(ctx, node, nil); err != nil {
		t.Fatal(err)
	}
	runningPod(t, ns, "web", node, nil, "app")

	pods, err := sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("executor cannot list pods in all namespaces: %v", err)
	}
	if !hasPod(pods.Items, ns, "web") {
		t.Fatalf("pod %s/web missing from the executor's list of %d pods", ns, len(pods.Items))
	}
	if _, err := sa.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{}); err != nil {
		t.Fatalf("executor cannot get a secret (the manifest allows it): %v", err)
	}

	_, err = sa.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "evil"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("executor pod create: got %v, want 403 Forbidden", err)
	}
	if err := sa.CoreV1().Pods(ns).Delete(ctx, "web", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("executor pod delete: got %v, want 403 Forbidden", err)
	}
}

func hasPod(pods []corev1.Pod, ns, name string) bool {
	for _, p := range pods {
		if p.Namespace == ns && p.Name == name {
			return true
		}
	}
	return false
}

// TestReadOnlyServiceAccountDenials asks the live apiserver, as the executor, about every
// dangerous permission the manifest must not grant, and about what it must grant.
func TestReadOnlyServiceAccountDenials(t *testing.T) {
	ctx := testContext(t)
	sa, _ := executorClient(t)
	cases := []struct {
		verb, group, resource, subresource string
		want                               bool
	}{
		{"list", "", "pods", "", true},
		{"get", "", "pods", "log", true},
		{"watch", "apps", "deployments", "", true},
		{"list", "metrics.k8s.io", "pods", "", true},
		{"list", "apiextensions.k8s.io", "customresourcedefinitions", "", true},
		{"get", "", "secrets", "", true},
		{"list", "", "secrets", "", true},
		{"watch", "", "secrets", "", false},
		{"create", "", "pods", "", false},
		{"delete", "", "pods", "", false},
		{"patch", "apps", "deployments", "", false},
		{"update", "apps", "deployments", "scale", false},
		{"create", "", "pods", "exec", false},
		{"get", "", "pods", "exec", false},
		{"create", "", "pods", "attach", false},
		{"create", "", "pods", "portforward", false},
		{"get", "", "nodes", "proxy", false},
		{"create", "", "serviceaccounts", "token", false},
		{"impersonate", "", "users", "", false},
		{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", false},
		{"bind", "rbac.authorization.k8s.io", "clusterroles", "", false},
		{"create", "", "namespaces", "", false},
		{"update", "", "configmaps", "", false},
		{"deletecollection", "", "events", "", false},
	}
	for _, c := range cases {
		r, err := sa.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: c.verb, Group: c.group, Resource: c.resource, Subresource: c.subresource,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SelfSubjectAccessReview: %v", err)
		}
		if r.Status.Allowed != c.want {
			t.Errorf("can-i %s %s/%s/%s = %v, want %v", c.verb, c.group, c.resource, c.subresource, r.Status.Allowed, c.want)
		}
	}
}

func TestKubectlWithServiceAccountToken(t *testing.T) {
	ns := cp.NewNamespace(t)
	_, kubeconfig := executorClient(t)
	if _, err := cp.Node(testContext(t), "sa-node", nil); err != nil {
		t.Fatal(err)
	}
	runningPod(t, ns, "api", "sa-node", nil, "app")

	if out := kubectl(t, kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "system:serviceaccount:kubently:kubently-executor" {
		t.Fatalf("kubectl auth whoami = %q, want the executor ServiceAccount", out)
	}
	if out := kubectl(t, kubeconfig, "get", "pods", "-n", ns, "-o", "name"); strings.TrimSpace(out) != "pod/api" {
		t.Fatalf("kubectl get pods = %q, want pod/api", out)
	}
	if out := kubectl(t, kubeconfig, "auth", "can-i", "list", "pods", "-A"); strings.TrimSpace(out) != "yes" {
		t.Fatalf("kubectl auth can-i list pods = %q, want yes", out)
	}
	out, _, err := cp.Kubectl(testContext(t), kubeconfig, "auth", "can-i", "delete", "pods", "-n", ns)
	if err == nil || strings.TrimSpace(out) != "no" {
		t.Fatalf("kubectl auth can-i delete pods = %q, %v; want no and exit 1", out, err)
	}
	_, errOut, err := cp.Kubectl(testContext(t), kubeconfig, "delete", "pod", "api", "-n", ns)
	if err == nil || !strings.Contains(errOut, "Forbidden") {
		t.Fatalf("kubectl delete pod as executor: err=%v stderr=%q; want Forbidden", err, errOut)
	}
}

func TestNodeLooksLikeAHealthyKubeletsNode(t *testing.T) {
	_, kubeconfig := executorClient(t)
	if _, err := cp.Node(testContext(t), "healthy-node", map[string]string{"zone": "a"}); err != nil {
		t.Fatal(err)
	}
	// Again: Node is idempotent and renews the node.
	if _, err := cp.Node(testContext(t), "healthy-node", map[string]string{"zone": "a"}); err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, kubeconfig, "get", "node", "healthy-node", "-L", "zone", "--no-headers")
	if f := strings.Fields(out); len(f) < 6 || f[1] != "Ready" || f[4] != "v1.37.2" || f[5] != "a" {
		t.Fatalf("kubectl get node = %q, want Ready, v1.37.2, zone a", out)
	}
	out = kubectl(t, kubeconfig, "describe", "node", "healthy-node")
	for _, want := range []string{"Taints:             <none>", "HolderIdentity:  healthy-node", "InternalIP:  127.0.0.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl describe node lacks %q:\n%s", want, out)
		}
	}
}

func TestKubectlLogsThroughKubeletStandIn(t *testing.T) {
	ns := cp.NewNamespace(t)
	_, kubeconfig := executorClient(t)
	if _, err := cp.Node(testContext(t), "logs-node", map[string]string{"pool": "logs"}); err != nil {
		t.Fatal(err)
	}
	runningPod(t, ns, "web", "logs-node", nil, "app", "sidecar")
	now := time.Now().UTC().Truncate(time.Second)
	old := now.Add(-2 * time.Hour)
	cp.Kubelet().SetLogs(ns, "web", "app", false, []k8stest.LogLine{
		{Time: old, Text: "booting"},
		{Time: now.Add(-30 * time.Minute), Text: "listening on :8080"},
		{Time: now.Add(-time.Minute), Text: "GET /healthz 200"},
	})
	cp.Kubelet().SetLogs(ns, "web", "app", true, []k8stest.LogLine{
		{Time: old.Add(-time.Hour), Text: "panic: nil map"},
	})

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, "booting\nlistening on :8080\nGET /healthz 200\n"},
		{"tail", []string{"--tail=2"}, "listening on :8080\nGET /healthz 200\n"},
		{"tail zero", []string{"--tail=0"}, ""},
		{"since", []string{"--since=1h"}, "listening on :8080\nGET /healthz 200\n"},
		{"since-time", []string{"--since-time=" + now.Add(-10*time.Minute).Format(time.RFC3339)}, "GET /healthz 200\n"},
		{"tail then since", []string{"--tail=2", "--since=10m"}, "GET /healthz 200\n"},
		{"timestamps", []string{"--tail=1", "--timestamps"}, now.Add(-time.Minute).Format("2006-01-02T15:04:05.000000000Z07:00") + " GET /healthz 200\n"},
		{"limit-bytes", []string{"--limit-bytes=10"}, "booting\nli"},
		{"previous", []string{"--previous"}, "panic: nil map\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"logs", "-n", ns, "web", "-c", "app"}, c.args...)
			if got := kubectl(t, kubeconfig, args...); got != c.want {
				t.Fatalf("kubectl %s\n got %q\nwant %q", strings.Join(args, " "), got, c.want)
			}
		})
	}

	t.Run("previous without a terminated container", func(t *testing.T) {
		_, errOut, err := cp.Kubectl(testContext(t), kubeconfig, "logs", "-n", ns, "web", "-c", "sidecar", "--previous")
		if err == nil || !strings.Contains(errOut, `previous terminated container "sidecar" in pod "web" not found`) {
			t.Fatalf("err=%v stderr=%q; want the kubelet's previous-not-found error", err, errOut)
		}
	})
	t.Run("running container without lines", func(t *testing.T) {
		if got := kubectl(t, kubeconfig, "logs", "-n", ns, "web", "-c", "sidecar"); got != "" {
			t.Fatalf("got %q, want empty log", got)
		}
	})
}

func TestFollowLogsStreamsAppendedLines(t *testing.T) {
	ctx := testContext(t)
	ns := cp.NewNamespace(t)
	sa, _ := executorClient(t)
	if _, err := cp.Node(ctx, "follow-node", nil); err != nil {
		t.Fatal(err)
	}
	runningPod(t, ns, "worker", "follow-node", nil, "main")
	cp.Kubelet().SetLogs(ns, "worker", "main", false, []k8stest.LogLine{{Text: "started"}})

	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := sa.CoreV1().Pods(ns).GetLogs("worker", &corev1.PodLogOptions{Container: "main", Follow: true}).Stream(streamCtx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	lines := bufio.NewScanner(stream)
	if !lines.Scan() || lines.Text() != "started" {
		t.Fatalf("first line = %q (%v), want started", lines.Text(), lines.Err())
	}
	cp.Kubelet().AppendLogs(ns, "worker", "main", k8stest.LogLine{Text: "job 1 done"})
	if !lines.Scan() || lines.Text() != "job 1 done" {
		t.Fatalf("followed line = %q (%v), want the appended line", lines.Text(), lines.Err())
	}
}

func TestKubectlTopThroughMetricsStandIn(t *testing.T) {
	ctx := testContext(t)
	ns := cp.NewNamespace(t)
	_, kubeconfig := executorClient(t)
	node := "top-node"
	if _, err := cp.Node(ctx, node, map[string]string{"pool": "top"}); err != nil {
		t.Fatal(err)
	}
	runningPod(t, ns, "web-1", node, map[string]string{"app": "web"}, "app", "proxy")
	runningPod(t, ns, "db-0", node, map[string]string{"app": "db"}, "postgres")
	cp.Metrics().SetPodMetrics(ns, "web-1", map[string]k8stest.ResourceUsage{
		"app":   {CPUMilli: 250, MemoryBytes: 64 << 20},
		"proxy": {CPUMilli: 5, MemoryBytes: 16 << 20},
	})
	cp.Metrics().SetPodMetrics(ns, "db-0", map[string]k8stest.ResourceUsage{"postgres": {CPUMilli: 1200, MemoryBytes: 1 << 30}})
	cp.Metrics().SetNodeMetrics(node, k8stest.ResourceUsage{CPUMilli: 2000, MemoryBytes: 8 << 30})

	out := kubectl(t, kubeconfig, "top", "pods", "-n", ns, "--no-headers")
	assertRows(t, out, [][]string{{"db-0", "1200m", "1024Mi"}, {"web-1", "255m", "80Mi"}})

	out = kubectl(t, kubeconfig, "top", "pods", "-n", ns, "-l", "app=web", "--containers", "--no-headers")
	assertRows(t, out, [][]string{{"web-1", "app", "250m", "64Mi"}, {"web-1", "proxy", "5m", "16Mi"}})

	out = kubectl(t, kubeconfig, "top", "pod", "db-0", "-n", ns, "--no-headers")
	assertRows(t, out, [][]string{{"db-0", "1200m", "1024Mi"}})

	out = kubectl(t, kubeconfig, "top", "nodes", "-l", "pool=top", "--no-headers")
	assertRows(t, out, [][]string{{node, "2000m", "50%", "8192Mi", "50%"}})

	_, errOut, err := cp.Kubectl(ctx, kubeconfig, "top", "pod", "missing", "-n", ns)
	if err == nil || !strings.Contains(errOut, `podmetrics.metrics.k8s.io "`+ns+`/missing" not found`) {
		t.Fatalf("kubectl top pod missing: err=%v stderr=%q; want metrics-server's NotFound", err, errOut)
	}
}

// assertRows compares whitespace-separated table rows.
func assertRows(t *testing.T, out string, want [][]string) {
	t.Helper()
	var got [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		got = append(got, strings.Fields(line))
	}
	if len(got) != len(want) {
		t.Fatalf("got rows %q, want %q", got, want)
	}
	for i := range want {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			t.Fatalf("row %d = %q, want %q (all: %q)", i, got[i], want[i], got)
		}
	}
}
