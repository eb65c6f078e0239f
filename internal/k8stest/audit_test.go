package k8stest_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubently/kubently/internal/k8stest"
)

// TestAuditLog proves that the audit log counts every request of an identity,
// refused ones included, and nothing else.
func TestAuditLog(t *testing.T) {
	ctx := testContext(t)
	sa, _ := executorClient(t)
	ns := cp.NewNamespace(t)

	count := func() int {
		t.Helper()
		if err := cp.AuditSync(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := cp.RequestsBy(k8stest.ExecutorUser)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	if _, err := sa.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.CoreV1().ConfigMaps(ns).Get(ctx, "missing", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing configmap: %v, want NotFound", err)
	}
	_, err := sa.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("read-only ServiceAccount created a configmap: %v", err)
	}
	if got := count() - before; got != 3 {
		t.Fatalf("audit log counts %d requests by %s, want 3", got, k8stest.ExecutorUser)
	}

	events, err := cp.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	var sawCreate bool
	for _, ev := range events {
		if ev.User == k8stest.ExecutorUser && ev.Verb == "create" && ev.Stage == k8stest.StageResponseComplete &&
			strings.HasPrefix(ev.RequestURI, "/api/v1/namespaces/"+ns+"/configmaps") {
			sawCreate = true
			if ev.Code != 403 || ev.Received.IsZero() || ev.AuditID == "" {
				t.Errorf("refused create logged as %+v, want code 403 with a receive time and an audit id", ev)
			}
		}
	}
	if !sawCreate {
		t.Error("the refused create is not in the audit log")
	}

	// Requests by others do not count.
	if _, err := cp.AdminClient().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if again := count(); again != before+3 {
		t.Fatalf("count moved from %d to %d without a request by %s", before+3, again, k8stest.ExecutorUser)
	}
}
