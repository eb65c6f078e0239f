package kube

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubently/kubently/internal/k8stest"
)

// requestLog records the requests that reach the network below the runner's
// own round trippers: the innermost wrapper of the rest.Config handed to
// NewRunner, i.e. what the API server receives.
type requestLog struct {
	mu   sync.Mutex
	reqs []string // "METHOD path"
}

func (l *requestLog) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			l.mu.Lock()
			l.reqs = append(l.reqs, req.Method+" "+req.URL.Path)
			l.mu.Unlock()
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.reqs...)
}

// writes returns the recorded requests that are not GET/HEAD/OPTIONS.
func (l *requestLog) writes() []string {
	var out []string
	for _, r := range l.all() {
		m, _, _ := strings.Cut(r, " ")
		if m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions {
			out = append(out, r)
		}
	}
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mutatingCommands(f *fixture) [][]string {
	ns := f.ns
	return [][]string{
		{"delete", "pod", f.webPods[0], "-n", ns, "--grace-period=0", "--force"},
		{"delete", "configmap", "web-config", "-n", ns},
		{"scale", "deployment", "web", "--replicas=5", "-n", ns},
		{"label", "pod", f.webPods[0], "env=prod", "-n", ns},
		{"annotate", "deployment", "web", "owner=team-a", "-n", ns},
		{"patch", "deployment", "web", "-n", ns, "-p", `{"spec":{"replicas":7}}`},
		{"set", "image", "deployment/web", "nginx=nginx:1.28", "-n", ns},
		{"rollout", "restart", "deployment/web", "-n", ns},
		{"rollout", "pause", "deployment/web", "-n", ns},
		{"rollout", "undo", "deployment/web", "-n", ns},
		{"cordon", goldenNode},
	}
}

// TestReadOnlyRefusesMutatingCommandsUpFront: in read-only mode a mutating
// command is refused before any request is made.
func TestReadOnlyRefusesMutatingCommandsUpFront(t *testing.T) {
	f := newFixture(t)
	var log requestLog
	cfg, ua := withTestUserAgent(log.wrap(cp.AdminConfig()))
	r := newSARunner(t, Options{Config: cfg, ReadOnly: true})
	for _, argv := range mutatingCommands(f) {
		res := r.Run(context.Background(), argv)
		if res.ExitCode != 1 || !strings.Contains(res.Error, "is not allowed in read-only mode") || res.Output != "" {
			t.Errorf("%v: got %+v", argv, res)
		}
	}
	if got := log.all(); len(got) != 0 {
		t.Errorf("requests were sent for refused commands: %v", got)
	}
	if reads, writes := auditedRequests(t, ua); len(reads)+len(writes) != 0 {
		t.Errorf("the API server received requests: %v %v", reads, writes)
	}
}

// withTestUserAgent gives cfg a unique User-Agent, so the API server's audit
// log shows exactly the requests of one test's runner.
func withTestUserAgent(cfg *rest.Config) (*rest.Config, string) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kubently-kube-test/" + strings.ToLower(rand.Text()[:10])
	return cfg, cfg.UserAgent
}

// auditedRequests returns, from the API server's own audit log, the requests
// received with User-Agent ua, split into reads and everything else.
func auditedRequests(t *testing.T, ua string) (reads, writes []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cp.AuditSync(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := cp.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.UserAgent != ua || ev.Stage != k8stest.StageRequestReceived {
			continue
		}
		switch ev.Verb {
		case "get", "list", "watch":
			reads = append(reads, ev.Verb+" "+ev.RequestURI)
		default:
			writes = append(writes, ev.Verb+" "+ev.RequestURI)
		}
	}
	return reads, writes
}

// TestReadOnlyTransportRefusesMutations proves the defence in depth: with the
// up-front check disabled and ADMIN credentials (so RBAC would allow every
// change), each mutating command still fails at the transport, no write
// request reaches the API server, and the objects are unchanged.
func TestReadOnlyTransportRefusesMutations(t *testing.T) {
	f := newFixture(t)
	var log requestLog
	cfg, ua := withTestUserAgent(log.wrap(cp.AdminConfig()))
	r := newSARunner(t, Options{Config: cfg, ReadOnly: true})
	r.skipVerbGate = true
	ctx := context.Background()
	admin := cp.AdminClient()
	before, err := admin.AppsV1().Deployments(f.ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, argv := range mutatingCommands(f) {
		res := r.Run(ctx, argv)
		// kubectl cordon reports a failed node on stderr and still exits 0.
		wantFail := argv[0] != "cordon"
		if (res.ExitCode != 0) != wantFail || !strings.Contains(res.Error, "kubently read-only transport refused") {
			t.Errorf("%v: not refused by the transport: %+v", argv, res)
		}
	}
	if w := log.writes(); len(w) != 0 {
		t.Fatalf("write requests reached the API server: %v", w)
	}
	if len(log.all()) == 0 {
		t.Fatal("no request was made at all: the commands did not get as far as the transport")
	}
	// The API server's audit log agrees: it saw this runner read, never write.
	reads, writes := auditedRequests(t, ua)
	if len(writes) != 0 {
		t.Errorf("the API server received write requests: %v", writes)
	}
	if len(reads) == 0 {
		t.Error("the audit log shows no request from the runner at all")
	}
	after, err := admin.AppsV1().Deployments(f.ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("deployment changed: resourceVersion %s -> %s", before.ResourceVersion, after.ResourceVersion)
	}
	if _, err := admin.CoreV1().Pods(f.ns).Get(ctx, f.webPods[0], metav1.GetOptions{}); err != nil {
		t.Errorf("pod deleted: %v", err)
	}
	if _, err := admin.CoreV1().ConfigMaps(f.ns).Get(ctx, "web-config", metav1.GetOptions{}); err != nil {
		t.Errorf("configmap deleted: %v", err)
	}
	node, err := admin.CoreV1().Nodes().Get(ctx, goldenNode, metav1.GetOptions{})
	if err != nil || node.Spec.Unschedulable {
		t.Errorf("node cordoned: %v %v", err, node.Spec.Unschedulable)
	}

	// The same transport lets reads and self access reviews through.
	res := r.Run(ctx, []string{"auth", "can-i", "delete", "pods", "-n", f.ns})
	if res.ExitCode != 0 || res.Output != "yes\n" {
		t.Errorf("can-i through the read-only transport: %+v", res)
	}
}

// TestReadOnlyTransportRefusesExec: exec is refused up front without
// AllowExec, and at the transport (pods/exec over SPDY POST or WebSocket GET)
// when the up-front check is bypassed.
func TestReadOnlyTransportRefusesExec(t *testing.T) {
	f := newFixture(t)
	argv := []string{"exec", f.webPods[0], "-n", f.ns, "--", "cat", "/etc/hostname"}
	var log requestLog
	r := newSARunner(t, Options{Config: log.wrap(cp.AdminConfig()), ReadOnly: true})
	res := r.Run(context.Background(), argv)
	if res.ExitCode != 1 || !strings.Contains(res.Error, "not allowed in this security mode") {
		t.Errorf("exec without AllowExec: %+v", res)
	}
	r.skipVerbGate = true
	res = r.Run(context.Background(), argv)
	if res.ExitCode == 0 || !strings.Contains(res.Error, "read-only transport refused") {
		t.Errorf("exec at the transport: %+v", res)
	}
	for _, req := range log.all() {
		if strings.HasSuffix(req, "/exec") {
			t.Errorf("exec request reached the API server: %s", req)
		}
	}
}

func TestGuardPolicy(t *testing.T) {
	ro := guardPolicy{readOnly: true}
	roExec := guardPolicy{readOnly: true, allowExec: true}
	full := guardPolicy{}
	cases := []struct {
		policy       guardPolicy
		method, path string
		allowed      bool
	}{
		{ro, "GET", "/api/v1/namespaces/a/pods", true},
		{ro, "GET", "/api/v1/namespaces/a/pods/p/log", true},
		{ro, "HEAD", "/version", true},
		{ro, "GET", "/openapi/v3/api/v1", true},
		{ro, "GET", "/apis/apps/v1/namespaces/a/deployments/web", true},
		{ro, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", true},
		{ro, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", true},
		{ro, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", false},
		{ro, "POST", "/apis/authorization.k8s.io/v1/namespaces/a/localsubjectaccessreviews", false},
		{ro, "POST", "/api/v1/namespaces/a/pods", false},
		{ro, "PUT", "/api/v1/namespaces/a/pods/p", false},
		{ro, "PATCH", "/apis/apps/v1/namespaces/a/deployments/web/scale", false},
		{ro, "DELETE", "/api/v1/namespaces/a/pods/p", false},
		{ro, "DELETE", "/api/v1/namespaces/a/pods", false},
		{ro, "POST", "/api/v1/namespaces/a/serviceaccounts/sa/token", false},
		{ro, "POST", "/api/v1/namespaces/a/pods/p/eviction", false},
		{ro, "GET", "/api/v1/namespaces/a/pods/p/exec", false},
		{ro, "POST", "/api/v1/namespaces/a/pods/p/exec", false},
		{ro, "GET", "/api/v1/namespaces/a/pods/p/attach", false},
		{ro, "GET", "/api/v1/namespaces/a/pods/p/portforward", false},
		{ro, "GET", "/api/v1/nodes/n/proxy/run/a/p/c", false},
		{ro, "GET", "/api/v1/namespaces/a/services/s:80/proxy/", false},
		{ro, "GET", "/api/v1/namespaces/a/pods/p/proxy", false},
		{roExec, "POST", "/api/v1/namespaces/a/pods/p/exec", true},
		{roExec, "GET", "/api/v1/namespaces/a/pods/p/exec", true},
		{roExec, "POST", "/api/v1/namespaces/a/pods/p/attach", false},
		{roExec, "DELETE", "/api/v1/namespaces/a/pods/p", false},
		{full, "DELETE", "/api/v1/namespaces/a/pods/p", true},
		{full, "GET", "/api/v1/nodes/n/proxy/metrics", true},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, "https://example.invalid"+c.path, nil)
		err := c.policy.check(req)
		if (err == nil) != c.allowed {
			t.Errorf("%+v %s %s: err=%v, want allowed=%v", c.policy, c.method, c.path, err, c.allowed)
		}
	}
}

// secretLeaks returns the forms in which one of the fixture's secret values
// appears in s.
func secretLeaks(f *fixture, s string) []string {
	var leaks []string
	for k, v := range f.secretVal {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(s, form) {
				leaks = append(leaks, k+"="+form)
			}
		}
	}
	return leaks
}

// TestSecretRedaction: whatever the command and output format, the runner
// never prints a Secret value, even when it is called directly (no policy in
// front) with admin credentials; sizes and keys are preserved.
func TestSecretRedaction(t *testing.T) {
	f := newFixture(t)
	ns := f.ns
	path := "/api/v1/namespaces/" + ns + "/secrets/" + f.secret
	commands := [][]string{
		{"get", "secret", f.secret, "-n", ns, "-o", "yaml"},
		{"get", "secret", f.secret, "-n", ns, "-o", "json"},
		{"get", "secrets", "-A", "-o", "yaml"},
		{"get", "secrets", "-n", ns, "-o", "wide"},
		{"get", "secret", f.secret, "-n", ns, "-o", "jsonpath={.data.password}"},
		{"get", "secret", f.secret, "-n", ns, "-o", `go-template={{.data.password | base64decode}}`},
		{"get", "secret", f.secret, "-n", ns, "-o", "custom-columns=PW:.data.password,ANN:.metadata.annotations"},
		{"get", "--raw", path},
		{"get", "--raw", "/api/v1/namespaces/" + ns + "/secrets"},
		{"get", "--raw", "/api/v1/namespaces/" + ns + "/secrets?watch=false&includeObject=Object"},
		{"describe", "secret", f.secret, "-n", ns},
		{"get", "all,secrets,configmaps", "-n", ns, "-o", "json"},
	}
	for _, cfg := range map[string]*rest.Config{"admin": cp.AdminConfig(), "executor": saConfig} {
		for _, ro := range []bool{true, false} {
			r := newSARunner(t, Options{Config: cfg, ReadOnly: ro})
			for _, argv := range commands {
				res := r.Run(context.Background(), argv)
				if res.ExitCode != 0 {
					t.Errorf("%v: %+v", argv, res)
					continue
				}
				if leaks := secretLeaks(f, res.Output+res.Error); len(leaks) > 0 {
					t.Errorf("%v leaks %v:\n%s", argv, leaks, res.Output)
				}
			}
		}
	}

	r := newSARunner(t, Options{Config: cp.AdminConfig()})
	res := r.Run(context.Background(), []string{"get", "secret", f.secret, "-n", ns, "-o", "json"})
	var sec corev1.Secret
	if err := json.Unmarshal([]byte(res.Output), &sec); err != nil {
		t.Fatalf("%v\n%s", err, res.Output)
	}
	for k, v := range f.secretVal {
		if got, want := string(sec.Data[k]), strings.Repeat("*", len(v)); got != want {
			t.Errorf("data[%s] = %q, want the same-length placeholder %q", k, got, want)
		}
	}
	if got := sec.Annotations[lastAppliedAnnotation]; got != RedactedAnnotation {
		t.Errorf("last-applied annotation = %q", got)
	}
	if sec.Labels["app"] != "web" || sec.Type != corev1.SecretTypeOpaque {
		t.Errorf("non-secret fields changed: %+v", sec.ObjectMeta)
	}

	// describe prints the real sizes.
	res = r.Run(context.Background(), []string{"describe", "secret", f.secret, "-n", ns})
	for k, v := range f.secretVal {
		line := k + ":  " + strconv.Itoa(len(v)) + " bytes"
		if !strings.Contains(res.Output, line) {
			t.Errorf("describe secret lacks %q:\n%s", line, res.Output)
		}
	}
}

// TestSecretRedactionInClients checks the transport beneath every kind of
// client kubectl code builds from the run's config: typed clients asking for
// protobuf, server-side Tables with embedded objects, and watch streams.
func TestSecretRedactionInClients(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newSARunner(t, Options{Config: cp.AdminConfig(), ReadOnly: true})
	e := newRunEnv(r, ctx, newCapWriter(1<<20), newCapWriter(1<<20))
	cfg, err := e.getter.ToRESTConfig()
	if err != nil {
		t.Fatal(err)
	}

	// Typed client with protobuf as its preferred content type.
	pcfg := rest.CopyConfig(cfg)
	pcfg.ContentType = "application/vnd.kubernetes.protobuf"
	pcfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	pcs, err := kubernetes.NewForConfig(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := pcs.CoreV1().Secrets(f.ns).Get(ctx, f.secret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkRedacted(t, f, "protobuf get", sec)
	list, err := pcs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if list.Items[i].Namespace == f.ns {
			checkRedacted(t, f, "protobuf list", &list.Items[i])
		}
	}

	// Server-side Table with the full objects embedded.
	raw, err := pcs.CoreV1().RESTClient().Get().Namespace(f.ns).Resource("secrets").
		Param("includeObject", "Object").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		Do(ctx).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"kind":"Table"`) || !strings.Contains(string(raw), `"object":`) {
		t.Fatalf("not a table with objects: %s", raw)
	}
	if leaks := secretLeaks(f, string(raw)); len(leaks) > 0 {
		t.Errorf("table leaks %v", leaks)
	}

	// Watch stream: a change made while watching arrives redacted.
	w, err := pcs.CoreV1().Secrets(f.ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	go func() {
		time.Sleep(200 * time.Millisecond)
		s, err := cp.AdminClient().CoreV1().Secrets(f.ns).Get(ctx, f.secret, metav1.GetOptions{})
		if err == nil {
			s.Labels["changed"] = "yes"
			_, _ = cp.AdminClient().CoreV1().Secrets(f.ns).Update(ctx, s, metav1.UpdateOptions{})
		}
	}()
	sawModified := false
	for !sawModified {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			s, ok := ev.Object.(*corev1.Secret)
			if !ok {
				t.Fatalf("watch event %s: %T", ev.Type, ev.Object)
			}
			if s.Name == f.secret {
				checkRedacted(t, f, "watch "+string(ev.Type), s)
			}
			sawModified = ev.Type == watch.Modified
		case <-ctx.Done():
			t.Fatal("no MODIFIED event")
		}
	}
}

func checkRedacted(t *testing.T, f *fixture, what string, s *corev1.Secret) {
	t.Helper()
	for k, v := range f.secretVal {
		if got, want := string(s.Data[k]), strings.Repeat("*", len(v)); got != want {
			t.Errorf("%s: data[%s] = %q, want %q", what, k, got, want)
		}
	}
	if got := s.Annotations[lastAppliedAnnotation]; got != RedactedAnnotation {
		t.Errorf("%s: last-applied annotation = %q", what, got)
	}
}
