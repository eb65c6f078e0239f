package analyze_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubently/kubently/internal/analyze"
	"github.com/kubently/kubently/internal/analyze/scenarios"
	"github.com/kubently/kubently/internal/k8stest"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// cp is the control plane shared by the tests of this package.
var cp *k8stest.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(k8stest.RunMain(m, func(c *k8stest.ControlPlane) error { cp = c; return nil }))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// executorClient authenticates as the executor's real read-only ServiceAccount, so the
// tests prove that the analyzers need nothing more.
func executorClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	_, cfg, err := cp.ReadOnlyServiceAccount(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func triage(t *testing.T, opts analyze.Options) []analyze.Finding {
	t.Helper()
	findings, err := analyze.Triage(testContext(t), executorClient(t), opts)
	if err != nil {
		t.Fatalf("Triage: %v", err)
	}
	return findings
}

func findFinding(findings []analyze.Finding, namespace, resource, analyzer string) *analyze.Finding {
	for i, f := range findings {
		if f.Resource == resource && f.Analyzer == analyzer && f.Namespace == namespace {
			return &findings[i]
		}
	}
	return nil
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// checkWords reports the words text lacks.
func missingWords(text string, words []string) []string {
	var missing []string
	for _, w := range words {
		if !containsFold(text, w) {
			missing = append(missing, w)
		}
	}
	return missing
}

// TestScenarios builds each failure scenario in its own namespace and checks that Triage,
// run as the read-only executor, names the resource, the specific root cause and a fix —
// and that no other critical finding points elsewhere.
func TestScenarios(t *testing.T) {
	for _, sc := range append(scenarios.All(), scenarios.Extras()...) {
		t.Run(fmt.Sprintf("%02d-%s", sc.Number, sc.Name), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			ns := cp.NewNamespace(t)
			if err := scenarios.Build(ctx, cp, ns, sc.Number); err != nil {
				t.Fatal(err)
			}
			findings := triage(t, analyze.Options{Namespace: ns, IncludeLogs: true})
			report := analyze.Render(findings)
			t.Logf("scenario %d (%s):\n%s", sc.Number, sc.Broken, report)

			wantNS := ns
			if strings.HasPrefix(sc.Resource(ns), "node/") {
				wantNS = ""
			}
			f := findFinding(findings, wantNS, sc.Resource(ns), sc.Analyzer)
			if f == nil {
				t.Fatalf("no %s finding for %s; got:\n%s", sc.Analyzer, sc.Resource(ns), report)
			}
			if f.Severity != sc.Severity {
				t.Errorf("severity = %s, want %s", f.Severity, sc.Severity)
			}
			if m := missingWords(f.RootCause, sc.RootCause); len(m) > 0 {
				t.Errorf("root cause lacks %q:\n%s", m, f.RootCause)
			}
			if m := missingWords(f.Fix, sc.Fix); len(m) > 0 {
				t.Errorf("fix lacks %q:\n%s", m, f.Fix)
			}
			if f.Symptom == "" || len(f.Evidence) == 0 {
				t.Errorf("finding without symptom or evidence: %+v", f)
			}
			for _, other := range findings {
				if other.Analyzer == analyze.AnalyzerAccess {
					t.Errorf("the read-only executor could not read everything: %v", other.Evidence)
				}
				if other.Severity == analyze.SeverityCritical {
					if m := missingWords(other.RootCause, sc.RootCause); len(m) > 0 {
						t.Errorf("critical finding for %s (%s) points elsewhere (lacks %q): %s", other.Resource, other.Analyzer, m, other.RootCause)
					}
				}
			}
			raw, _ := json.Marshal(findings)
			if strings.Contains(string(raw), scenarios.SecretValueSentinel) {
				t.Errorf("a Secret value leaked into the findings")
			}
			if !strings.Contains(report, f.RootCause) || !strings.Contains(report, f.Fix) {
				t.Errorf("Render lacks the root cause or fix")
			}
		})
	}
}

func TestHealthyNamespaceHasNoFindings(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := cp.NewNamespace(t)
	if err := scenarios.BuildHealthy(ctx, cp, ns); err != nil {
		t.Fatal(err)
	}
	findings := triage(t, analyze.Options{Namespace: ns, IncludeLogs: true})
	for _, f := range findings {
		if f.Severity == analyze.SeverityCritical {
			t.Errorf("critical finding in a healthy namespace: %+v", f)
		}
	}
	if len(findings) != 0 {
		t.Errorf("want no findings, got:\n%s", analyze.Render(findings))
	}
	if got := analyze.Render(findings); len(findings) == 0 && got != "No problems found.\n" {
		t.Errorf("Render(nil) = %q", got)
	}
}

// Without logs the crash is still found, but the env var cannot be named: the finding says
// so instead of guessing.
func TestCrashWithoutLogs(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := cp.NewNamespace(t)
	if err := scenarios.Build(ctx, cp, ns, 1); err != nil {
		t.Fatal(err)
	}
	findings := triage(t, analyze.Options{Namespace: ns})
	f := findFinding(findings, ns, "deployment/checkout", analyze.AnalyzerCrashLoop)
	if f == nil {
		t.Fatalf("no CrashLoopBackOff finding:\n%s", analyze.Render(findings))
	}
	if containsFold(f.RootCause, "DEPLOY_ENV") {
		t.Errorf("root cause names DEPLOY_ENV without reading logs: %s", f.RootCause)
	}
	if !containsFold(f.RootCause, "exits with code 1") || !containsFold(f.Fix, "kubectl logs") {
		t.Errorf("want exit code and a pointer to the logs; root cause %q, fix %q", f.RootCause, f.Fix)
	}
	if !containsFold(strings.Join(f.Evidence, "\n"), "affected pods") {
		t.Errorf("the two replicas should be grouped in one finding: %v", f.Evidence)
	}
}

func TestLabelSelector(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := cp.NewNamespace(t)
	if err := scenarios.Build(ctx, cp, ns, 2); err != nil { // deployment web (broken) and docs (healthy)
		t.Fatal(err)
	}
	if findings := triage(t, analyze.Options{Namespace: ns, LabelSelector: "app=docs"}); len(findings) != 0 {
		t.Errorf("app=docs selects only healthy pods, got:\n%s", analyze.Render(findings))
	}
	findings := triage(t, analyze.Options{Namespace: ns, LabelSelector: "app=web"})
	if findFinding(findings, ns, "deployment/web", analyze.AnalyzerImagePull) == nil {
		t.Errorf("app=web: no ImagePull finding:\n%s", analyze.Render(findings))
	}
	if _, err := analyze.Triage(ctx, executorClient(t), analyze.Options{LabelSelector: "app in (("}); err == nil {
		t.Error("an invalid label selector was accepted")
	}
}

func TestAllNamespacesAndMaxFindings(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns1, ns2 := cp.NewNamespace(t), cp.NewNamespace(t)
	if err := scenarios.Build(ctx, cp, ns1, 14); err != nil {
		t.Fatal(err)
	}
	if err := scenarios.Build(ctx, cp, ns2, 6); err != nil {
		t.Fatal(err)
	}
	findings := triage(t, analyze.Options{})
	t.Logf("all namespaces:\n%s", analyze.Render(findings))
	if findFinding(findings, ns1, "deployment/orders", analyze.AnalyzerConfig) == nil ||
		findFinding(findings, ns2, "deployment/billing", analyze.AnalyzerOOMKilled) == nil {
		t.Fatalf("all-namespace triage misses a scenario:\n%s", analyze.Render(findings))
	}
	for i := 1; i < len(findings); i++ {
		if rank(findings[i-1].Severity) > rank(findings[i].Severity) {
			t.Fatalf("findings not sorted by severity at %d: %s before %s", i, findings[i-1].Severity, findings[i].Severity)
		}
	}
	limited := triage(t, analyze.Options{MaxFindings: 2})
	if len(limited) != 2 || limited[0].Severity != analyze.SeverityCritical {
		t.Errorf("MaxFindings=2: got %d findings, first %+v", len(limited), limited)
	}
}

func rank(s string) int {
	return map[string]int{analyze.SeverityCritical: 0, analyze.SeverityWarning: 1, analyze.SeverityInfo: 2}[s]
}

// Without FailedScheduling events (the scheduler has not reported yet) the analyzer
// evaluates the nodes itself.
func TestSchedulingWithoutSchedulerEvents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := cp.NewNamespace(t)
	admin := cp.AdminClient()
	if _, err := cp.Node(ctx, scenarios.NodeName(ns, "node"), nil); err != nil {
		t.Fatal(err)
	}
	pods := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "registry.example.com/huge:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("48")}},
		}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "gpu"}, Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"accelerator": "tpu-v9"},
			Containers:   []corev1.Container{{Name: "main", Image: "registry.example.com/gpu:1"}},
		}},
	}
	for _, p := range pods {
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	findings := triage(t, analyze.Options{Namespace: ns})
	huge := findFinding(findings, ns, "pod/huge", analyze.AnalyzerUnschedulable)
	gpu := findFinding(findings, ns, "pod/gpu", analyze.AnalyzerUnschedulable)
	if huge == nil || gpu == nil {
		t.Fatalf("missing Unschedulable findings:\n%s", analyze.Render(findings))
	}
	if m := missingWords(huge.RootCause, []string{"48 CPU", "largest node allocatable"}); len(m) > 0 {
		t.Errorf("pod/huge root cause lacks %q: %s", m, huge.RootCause)
	}
	if m := missingWords(gpu.RootCause, []string{"accelerator=tpu-v9", "matches no node"}); len(m) > 0 {
		t.Errorf("pod/gpu root cause lacks %q: %s", m, gpu.RootCause)
	}
}

// With less than the executor's rights (here: only pods, pods/log and events of one
// namespace) Triage still diagnoses what it can and reports what it could not read.
func TestLimitedPermissionsReportGaps(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := cp.NewNamespace(t)
	if err := scenarios.Build(ctx, cp, ns, 14); err != nil {
		t.Fatal(err)
	}
	admin := cp.AdminClient()
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "limited"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pods-only"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pods-only"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pods-only"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "limited", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "limited", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	limited, err := kubernetes.NewForConfig(&rest.Config{Host: cp.URL(), BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: cp.CAData()}})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the authorizer's cache has the binding.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := limited.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("limited ServiceAccount cannot list pods: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	findings, err := analyze.Triage(ctx, limited, analyze.Options{Namespace: ns, IncludeLogs: true})
	if err != nil {
		t.Fatalf("Triage with limited rights: %v", err)
	}
	t.Logf("limited rights:\n%s", analyze.Render(findings))
	var access, config *analyze.Finding
	for i, f := range findings {
		switch f.Analyzer {
		case analyze.AnalyzerAccess:
			access = &findings[i]
		case analyze.AnalyzerConfig:
			config = &findings[i]
		}
	}
	if access == nil || !containsFold(strings.Join(access.Evidence, "\n"), "cannot list (forbidden): cronjobs, daemonsets, deployments") {
		t.Errorf("want an Access finding naming the forbidden replicasets, got %+v", access)
	}
	if config == nil {
		t.Fatalf("the CreateContainerConfigError was not diagnosed from the pod status")
	}
	if m := missingWords(config.RootCause, []string{"db-creds", `no key "password"`, "could not be read"}); len(m) > 0 {
		t.Errorf("root cause lacks %q: %s", m, config.RootCause)
	}
	// Without the ReplicaSet, the owner walk stops there.
	if !strings.HasPrefix(config.Resource, "replicaset/orders-") {
		t.Errorf("resource = %s, want the ReplicaSet (the Deployment is not readable)", config.Resource)
	}

	// Listing pods is the one thing Triage cannot do without.
	if _, err := analyze.Triage(ctx, limited, analyze.Options{}); err == nil {
		t.Error("Triage over all namespaces without cluster-wide pod access did not fail")
	}
}
