package analyze

import (
	"reflect"
	"strings"
	"testing"
)

func TestMissingEnvVar(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
	}{
		{[]string{"starting", "fatal: DEPLOY_ENV is not set"}, "DEPLOY_ENV"},
		{[]string{"Error: environment variable DATABASE_URL is required"}, "DATABASE_URL"},
		{[]string{`missing required environment variable: "API_TOKEN"`}, "API_TOKEN"},
		{[]string{"Traceback (most recent call last):", `KeyError: 'REDIS_HOST'`}, "REDIS_HOST"},
		{[]string{"/entrypoint.sh: line 3: APP_MODE: unbound variable"}, "APP_MODE"},
		{[]string{"panic: SECRET_KEY must be set"}, "SECRET_KEY"},
		{[]string{"ERROR is not set in stone", "listening on :8080"}, ""},
		{[]string{"connection refused"}, ""},
	}
	for _, tt := range tests {
		if got, _ := missingEnvVar(tt.lines); got != tt.want {
			t.Errorf("missingEnvVar(%q) = %q, want %q", tt.lines, got, tt.want)
		}
	}
}

func TestWaitDependencies(t *testing.T) {
	tests := []struct {
		cmd  string
		want []dependency
	}{
		{"until nc -z postgres 5432; do sleep 2; done", []dependency{{host: "postgres", port: 5432}}},
		{"nc -zv -w 2 db.data.svc.cluster.local 3306", []dependency{{host: "db.data.svc.cluster.local", port: 3306}}},
		{"until pg_isready -h pg -p 5433; do sleep 1; done", []dependency{{host: "pg", port: 5433}}},
		{"until nslookup redis-master; do sleep 2; done", []dependency{{host: "redis-master"}}},
		{"until curl -fs http://api:8080/healthz; do sleep 1; done", []dependency{{host: "api", port: 8080}}},
		{"timeout 1 bash -c '</dev/tcp/kafka/9092'", []dependency{{host: "kafka", port: 9092}}},
		{"nc -z 10.0.0.5 5432", nil},
		{"echo hello", nil},
	}
	for _, tt := range tests {
		got := waitDependencies(tt.cmd)
		for i := range got {
			got[i].how = ""
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("waitDependencies(%q) = %+v, want %+v", tt.cmd, got, tt.want)
		}
	}
}

func TestLogDependencies(t *testing.T) {
	lines := []string{
		"dial tcp: lookup orders-db on 10.96.0.10:53: no such host",
		`psql: error: could not translate host name "pg-main" to address`,
		"nc: bad address 'postgres'",
	}
	var hosts []string
	for _, d := range logDependencies(lines) {
		hosts = append(hosts, d.host)
	}
	if want := []string{"orders-db", "postgres", "pg-main"}; !sameSet(hosts, want) {
		t.Errorf("hosts = %v, want %v", hosts, want)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestServiceOfHost(t *testing.T) {
	tests := []struct {
		host, ns, wantNS, wantName string
		ok                         bool
	}{
		{"postgres", "shop", "shop", "postgres", true},
		{"postgres.db", "shop", "db", "postgres", true},
		{"postgres.db.svc", "shop", "db", "postgres", true},
		{"postgres.db.svc.cluster.local", "shop", "db", "postgres", true},
		{"api.example.com", "shop", "", "", false},
	}
	for _, tt := range tests {
		ns, name, ok := serviceOfHost(tt.host, tt.ns)
		if ns != tt.wantNS || name != tt.wantName || ok != tt.ok {
			t.Errorf("serviceOfHost(%q) = %q %q %v", tt.host, ns, name, ok)
		}
	}
}

func TestClassifyPullError(t *testing.T) {
	tests := map[string]string{
		`Failed to pull image "nginx:1.99-nonexistent": Error response from daemon: manifest for nginx:1.99-nonexistent not found: manifest unknown: manifest unknown`:                                                        pullNotFound,
		`failed to pull and unpack image "docker.io/library/nginx:9": failed to resolve reference "docker.io/library/nginx:9": docker.io/library/nginx:9: not found`:                                                          pullNotFound,
		`Failed to pull image "acme/private:1": Error response from daemon: pull access denied for acme/private, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`: pullRepoOrAuth,
		`failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized`:                                                                                                                           pullAuth,
		`dial tcp: lookup registry.internal on 10.96.0.10:53: no such host`:                                                                                                                                                   pullNetwork,
		`toomanyrequests: You have reached your pull rate limit`:                                                                                                                                                              pullRateLimit,
		`Failed to apply default image tag "Nginx:latest": couldn't parse image reference "Nginx:latest": invalid reference format: repository name must be lowercase`:                                                        pullInvalid,
	}
	for msg, want := range tests {
		if got := classifyPullError(msg); got != want {
			t.Errorf("classifyPullError(%.60q…) = %s, want %s", msg, got, want)
		}
	}
}

func TestSplitImage(t *testing.T) {
	tests := []struct{ image, repo, tag, digest string }{
		{"nginx:1.99-nonexistent", "nginx", "1.99-nonexistent", ""},
		{"nginx", "nginx", "latest", ""},
		{"registry:5000/team/app:2", "registry:5000/team/app", "2", ""},
		{"registry:5000/team/app", "registry:5000/team/app", "latest", ""},
		{"ghcr.io/x/y@sha256:abc", "ghcr.io/x/y", "", "sha256:abc"},
	}
	for _, tt := range tests {
		repo, tag, digest := splitImage(tt.image)
		if repo != tt.repo || tag != tt.tag || digest != tt.digest {
			t.Errorf("splitImage(%q) = %q %q %q", tt.image, repo, tag, digest)
		}
	}
}

func TestParseSchedulingMessage(t *testing.T) {
	total, reasons := parseSchedulingMessage("0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.")
	if total != 5 {
		t.Errorf("total = %d", total)
	}
	var got []string
	for _, r := range reasons {
		got = append(got, r.cat)
	}
	if want := []string{catResources, catTaint, catSelector}; !reflect.DeepEqual(got, want) {
		t.Errorf("categories = %v, want %v (%+v)", got, want, reasons)
	}
	_, reasons = parseSchedulingMessage("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
	if len(reasons) != 1 || reasons[0].cat != catVolume {
		t.Errorf("unbound PVC: %+v", reasons)
	}
	if total, _ := parseSchedulingMessage(""); total != -1 {
		t.Errorf("empty message: total %d", total)
	}
}

func TestRedactLine(t *testing.T) {
	tests := map[string]string{
		"connecting with password=hunter2 to db":     "connecting with password=[redacted] to db",
		`config: {"api_key": "abc123", "port": 80}`:  `config: {"api_key": "[redacted]", "port": 80}`,
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9": "Authorization: Bearer [redacted]",
		"fatal: DEPLOY_ENV is not set":               "fatal: DEPLOY_ENV is not set",
	}
	for in, want := range tests {
		if got := redactLine(in); got != want {
			t.Errorf("redactLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJVMHeapAndSuggestedLimit(t *testing.T) {
	setting, bytes := jvmHeap("java -Xms256m -Xmx512m -jar app.jar")
	if setting != "-Xmx512m" || bytes != 512<<20 {
		t.Errorf("jvmHeap = %q %d", setting, bytes)
	}
	if got := suggestedLimit(128<<20, 512<<20); got != 768<<20 {
		t.Errorf("suggestedLimit(128Mi, 512Mi heap) = %d, want 768Mi", got)
	}
	if got := suggestedLimit(100<<20, 0); got != 256<<20 {
		t.Errorf("suggestedLimit(100Mi) = %d, want 256Mi (2x rounded up to 64Mi)", got)
	}
}

func TestRender(t *testing.T) {
	if got := Render(nil); got != "No problems found.\n" {
		t.Errorf("Render(nil) = %q", got)
	}
	out := Render([]Finding{{
		Severity: SeverityCritical, Analyzer: AnalyzerCrashLoop, Resource: "deployment/checkout", Namespace: "shop",
		Symptom: "container app keeps crashing", Evidence: []string{"exit code 1", "log: fatal: DEPLOY_ENV is not set"},
		RootCause: "DEPLOY_ENV is not set", Fix: "set DEPLOY_ENV in deployment/checkout",
	}, {
		Severity: SeverityWarning, Analyzer: AnalyzerNodeCondition, Resource: "node/n1",
		Symptom: "node n1 reports DiskPressure", RootCause: "disk full", Fix: "free disk",
	}})
	for _, want := range []string{
		"Found 2 problems: 1 critical, 1 warning.",
		"1. [CRITICAL] deployment/checkout in namespace shop (CrashLoopBackOff)",
		"   Symptom:    container app keeps crashing",
		"     - log: fatal: DEPLOY_ENV is not set",
		"   Root cause: DEPLOY_ENV is not set",
		"   Fix:        set DEPLOY_ENV in deployment/checkout",
		"2. [WARNING] node/n1 (NodeCondition)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Render output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimilar(t *testing.T) {
	if got := similar("app-settings", []string{"app-setting", "feature-flags", "app-settings-v2"}); !reflect.DeepEqual(got, []string{"app-setting", "app-settings-v2"}) {
		t.Errorf("similar = %v", got)
	}
}
