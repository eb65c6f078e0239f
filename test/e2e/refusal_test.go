package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/k8stest"
)

// Parts of the refusal reasons, by kind of refusal.
const (
	notReadOnly  = "is not allowed in readOnly mode"
	needsExtRO   = "it needs extendedReadOnly mode"
	never        = "is never allowed"
	credentials  = "it overrides the executor's credentials or target"
	unbounded    = "it starts an unbounded stream"
	secretValues = "reading secret values is not allowed"
	fileInput    = "it reads files on the executor"
)

// refusal is one command that must be refused, and a part of the reason.
type refusal struct {
	argv []string
	want string
}

func words(s string) []string { return strings.Fields(s) }

// apiRefusals are refused by the security mode: the API's pre-check answers
// them, and the executor would refuse them too.
func apiRefusals(f *fixture) []refusal {
	ns, pod := f.ns, f.shopPods[0]
	r := func(cmd, want string) refusal { return refusal{argv: words(cmd), want: want} }
	return []refusal{
		// writes
		r("delete pod "+pod+" -n "+ns, `verb "delete" `+notReadOnly),
		r("delete pods --all -n "+ns, notReadOnly),
		r("scale deploy/shop --replicas=0 -n "+ns, `verb "scale" `+notReadOnly),
		r("rollout restart deploy/shop -n "+ns, `command "rollout restart" `+notReadOnly),
		r("rollout undo deploy/shop -n "+ns, `command "rollout undo" `+notReadOnly),
		r("rollout pause deployment/shop -n "+ns, notReadOnly),
		r("label pods "+pod+" hacked=true -n "+ns, notReadOnly),
		r("annotate pods "+pod+" hacked=true -n "+ns, notReadOnly),
		{argv: []string{"patch", "deploy", "shop", "-n", ns, "-p", `{"spec":{"replicas":0}}`}, want: notReadOnly},
		r("create namespace evil", notReadOnly),
		r("create configmap c --from-literal=a=b -n "+ns, notReadOnly),
		r("cordon "+fixtureNode, notReadOnly),
		r("drain "+fixtureNode+" --ignore-daemonsets", notReadOnly),
		r("taint nodes "+fixtureNode+" k=v:NoSchedule", notReadOnly),
		r("set image deploy/shop shop=evil:1 -n "+ns, notReadOnly),
		r("run pwn --image=busybox -n "+ns, notReadOnly),
		r("expose deploy shop --port=80 -n "+ns, notReadOnly),
		r("autoscale deploy shop --max=3 -n "+ns, notReadOnly),
		r("apply -f /tmp/x.yaml", never),
		r("replace -f /tmp/x.yaml", never),
		r("edit deploy shop -n "+ns, never),
		r("certificate approve csr-1", never),
		// exec and interactive access in readOnly
		r("exec "+pod+" -n "+ns+" -- ls /", needsExtRO),
		r("exec -it "+pod+" -n "+ns+" -- sh", needsExtRO),
		r("exec "+pod+" -c shop -n "+ns+" -- cat /var/run/secrets/kubernetes.io/serviceaccount/token", needsExtRO),
		r("attach "+pod+" -n "+ns, never),
		r("port-forward pod/"+pod+" 8000 -n "+ns, never),
		r("proxy", never),
		r("cp "+ns+"/"+pod+":/etc/passwd /tmp/passwd", never),
		r("debug "+pod+" -n "+ns, never),
		r("config view", never),
		r("auth whoami", never),
		r("cluster-info dump", never),
		// credential and target smuggling, in every flag spelling
		r("get pods --kubeconfig=/etc/kubernetes/admin.conf", "flag --kubeconfig is not allowed: "+credentials),
		r("get pods --kubeconfig /etc/kubernetes/admin.conf", "flag --kubeconfig is not allowed"),
		r("top pod --kubeconfig=/x", "flag --kubeconfig is not allowed"),
		r("get pods -s=https://evil.example", "flag -s/--server is not allowed"),
		r("get pods -shttps://evil.example", "flag -s/--server is not allowed"),
		r("get pods -s https://evil.example", "flag -s/--server is not allowed"),
		r("get -Ashttps://evil.example pods", "flag -s/--server is not allowed"),
		r("get pods --server=https://evil.example", "flag -s/--server is not allowed"),
		r("get pods --token=stolen", "flag --token is not allowed"),
		r("get pods --as=system:admin", "flag --as is not allowed"),
		r("describe pods --as=admin -n "+ns, "flag --as is not allowed"),
		r("get pods --as-group=system:masters", "flag --as-group is not allowed"),
		r("get pods --context=prod", "flag --context is not allowed"),
		r("get pods --user=admin", "flag --user is not allowed"),
		r("get pods --insecure-skip-tls-verify", "flag --insecure-skip-tls-verify is not allowed"),
		r("get pods --insecure_skip_tls_verify=false", "flag --insecure-skip-tls-verify is not allowed"),
		r("get pods --certificate-authority=/tmp/ca.crt", "flag --certificate-authority is not allowed"),
		r("get pods --cache-dir=/tmp/evil", "flag --cache-dir is not allowed"),
		r("logs "+pod+" -n "+ns+" --insecure-skip-tls-verify-backend", "flag --insecure-skip-tls-verify-backend is not allowed"),
		r("get --raw /api/v1/namespaces/"+ns+"/secrets", "flag --raw is not allowed"),
		r("get --raw=/api/v1/secrets", "flag --raw is not allowed"),
		r("get -f /etc/kubernetes/admin.conf", "flag -f/--filename is not allowed: "+fileInput),
		r("get -k /etc", "flag -k/--kustomize is not allowed"),
		r("get pods -o jsonpath-file=/var/run/secrets/kubernetes.io/serviceaccount/token", `output format "jsonpath-file" is not allowed`),
		r("get pods -o templatefile=/etc/passwd", `output format "templatefile" is not allowed`),
		r("get pods -v=9", "verbosity above 5"),
		r("get pods --vmodule=*=9", "flag --vmodule is not allowed"),
		r("get pods -h", "flag -h/--help is not allowed"),
		r("get pods --Kubeconfig=/x", "unknown flag --Kubeconfig"),
		r("get pods ---kubeconfig=/x", "bad flag syntax"),
		r("get pods -Ax", `unknown flag -x in -Ax for "get"`),
		r("get pods --bogus", `unknown flag --bogus for "get"`),
		r("get pods -n", "flag -n/--namespace needs a value"),
		// unbounded streams
		r("get pods -w", "flag -w/--watch is not allowed: "+unbounded),
		r("get pods -Aw", "flag -w/--watch is not allowed"),
		r("get pods --watch=true", "flag -w/--watch is not allowed"),
		r("events --watch", "flag -w/--watch is not allowed"),
		r("logs -f "+pod+" -n "+ns, "flag -f/--follow is not allowed"),
		r("logs "+pod+" -n "+ns+" --follow=true", "flag -f/--follow is not allowed"),
		r("logs -pf "+pod+" -n "+ns, "flag -f/--follow is not allowed"),
		// secret values, in every output form and spelling
		r("get secret "+f.secret+" -n "+ns+" -o yaml", secretValues+`: output format "yaml" on secrets`),
		r("get secret/"+f.secret+" -n "+ns+" -o=yaml", secretValues),
		r("get secret "+f.secret+" -n "+ns+" -oyaml", secretValues),
		r("get secrets -n "+ns+" -o json", secretValues+`: output format "json"`),
		r("get secrets -n "+ns+" --output=jsonpath={.items[*].data}", `output format "jsonpath" on secrets`),
		r("get secrets -n "+ns+" -o jsonpath-as-json={.items[*].data}", `output format "jsonpath-as-json" on secrets`),
		r("get secrets -n "+ns+" -o go-template={{.data}}", `output format "go-template" on secrets`),
		r("get secrets -n "+ns+" --output custom-columns=PW:.data.password", `output format "custom-columns" on secrets`),
		r("get secrets -n "+ns+" --template={{.data}}", secretValues+": --template on secrets"),
		r("get secrets -n "+ns+" --sort-by=.data.password", secretValues+`: --sort-by ".data.password"`),
		r("get secrets -n "+ns+" -o kyaml", `output format "kyaml" on secrets`),
		r("get secrets.v1. -n "+ns+" -o json", secretValues),
		r("get Secret.v1. "+f.secret+" -n "+ns+" -o json", secretValues),
		r("get SECRETS -n "+ns+" -o yaml", secretValues),
		r("get pods,secrets -n "+ns+" -o yaml", secretValues),
		r("get all,secrets -n "+ns+" -o json", secretValues),
		r("get secret,configmap -n "+ns+" -o yaml", secretValues),
		r("get pod/"+pod+" secret/"+f.secret+" -n "+ns+" -o yaml", secretValues),
		r("get secrets -A -o yaml", secretValues),
		r("get -n "+ns+" -o yaml -- secrets", secretValues),
		// nonsense that could hide something
		r("frobnicate pods", `unknown verb "frobnicate"`),
		r("rollout frob deploy/shop", `unknown subcommand "frob" for "rollout"`),
		r("version extra", `"version" takes no arguments`),
		r("get pods$(id)", "invalid resource type"),
	}
}

// executorRefusals are allowed by the readOnly mode, so the API lets them
// through, but refused by restrictedCluster's executor rules (restrictedConfig).
func executorRefusals(f *fixture) []refusal {
	ns, pod := f.ns, f.shopPods[0]
	r := func(cmd, want string) refusal { return refusal{argv: words(cmd), want: want} }
	return []refusal{
		r("get configmaps -n "+ns, `"get" is refused by deny rule 1`),
		r("get cm shop-settings -n "+ns, "deny rule 1"),
		r("get configmap/shop-settings -n "+ns+" -o yaml", "deny rule 1"),
		r("get configmaps -A", "deny rule 1"),
		r("get pods,configmaps -n "+ns, "deny rule 1"),
		r("logs "+pod+" -n "+ns, `"logs" is refused by deny rule 2`),
		r("logs "+f.queuePod+" -c consumer --previous -n "+ns, "deny rule 2"),
		// No -n: the executor's default namespace is "kubently", which rule 3 covers.
		r("get events", "deny rule 3"),
		r("get ev --namespace=kubently", "deny rule 3"),
	}
}

// TestRefusedCommandsNeverReachKubernetes sends refused commands through the
// API: every one is answered 403 with the refusal's reason and mode,
// recorded in the audit log as denied, and none of them makes a single
// request to the Kubernetes API (counted in the apiserver's audit log).
func TestRefusedCommandsNeverReachKubernetes(t *testing.T) {
	s := theStack(t)
	mainSess := s.user.createSession(t, mainCluster)
	restrictedSess := s.user.createSession(t, restrictedCluster)
	apiCases, execCases := apiRefusals(fx), executorRefusals(fx)
	if len(apiCases) < 60 {
		t.Fatalf("only %d refusals through the API pre-check; the issue asks for at least 60", len(apiCases))
	}

	before := executorRequests(t)
	type sent struct {
		refusal
		cluster, session, reason string
	}
	var all []sent
	check := func(cluster, session string, rf refusal) {
		t.Helper()
		r := s.user.execute(t, cluster, session, 30, rf.argv...)
		if r.status != http.StatusForbidden {
			t.Errorf("%s: %q was not refused: %s", cluster, join(rf.argv), r)
			return
		}
		reason, _ := r.err.Details["reason"].(string)
		switch {
		case r.err.Code != api.CodeForbidden:
			t.Errorf("%q: error code %q, want forbidden", join(rf.argv), r.err.Code)
		case r.err.Message != "command denied: "+reason:
			t.Errorf("%q: message %q, want %q", join(rf.argv), r.err.Message, "command denied: "+reason)
		case r.err.Details["security_mode"] != "readOnly":
			t.Errorf("%q: security_mode %v, want readOnly", join(rf.argv), r.err.Details["security_mode"])
		case !strings.Contains(reason, rf.want):
			t.Errorf("%q: reason %q does not say %q", join(rf.argv), reason, rf.want)
		}
		all = append(all, sent{refusal: rf, cluster: cluster, session: session, reason: reason})
	}
	for _, rf := range apiCases {
		check(mainCluster, mainSess, rf)
	}
	for _, rf := range execCases {
		check(restrictedCluster, restrictedSess, rf)
	}
	if after := executorRequests(t); after != before {
		t.Errorf("the executor's ServiceAccount made %d request(s) at the Kubernetes API while only refused commands were sent:\n%s",
			after-before, executorEventsSince(t, before))
	}

	// Every attempt is in the audit log, as denied, with its reason.
	entries := map[string][]api.AuditEntry{}
	for _, sess := range []string{mainSess, restrictedSess} {
		for _, e := range s.user.audit(t, url.Values{"session_id": {sess}, "limit": {"1000"}}) {
			entries[e.SessionID+"\x00"+strings.Join(e.Argv, "\x00")] = append(entries[e.SessionID+"\x00"+strings.Join(e.Argv, "\x00")], e)
		}
	}
	for _, a := range all {
		list := entries[a.session+"\x00"+strings.Join(a.argv, "\x00")]
		if len(list) != 1 {
			t.Errorf("%q: %d audit entries, want 1", join(a.argv), len(list))
			continue
		}
		if e := list[0]; e.Outcome != "denied" || e.Reason != a.reason || e.Principal != "alice" || e.ClusterID != a.cluster {
			t.Errorf("%q: audit entry %+v, want outcome denied with reason %q", join(a.argv), e, a.reason)
		}
	}
	t.Logf("%d refusals by the API pre-check and %d by the executor, all audited, none reached Kubernetes", len(apiCases), len(execCases))

	// Control: the restricted executor runs what its rules allow, and that
	// does reach Kubernetes, so the count above could have seen it.
	r := s.user.execute(t, restrictedCluster, restrictedSess, 30, "get", "events", "-n", fx.ns)
	if r.status != http.StatusOK || r.res.Status != api.StatusCompleted {
		t.Fatalf("allowed command on the restricted executor: %s", r)
	}
	if executorRequests(t) == before {
		t.Error("an allowed command left no trace in the apiserver's audit log: the zero count above proves nothing")
	}
}

// executorRequests is how many requests the executor's ServiceAccount has
// made to the Kubernetes API so far.
func executorRequests(t *testing.T) int {
	t.Helper()
	if err := cp.AuditSync(ctxFor(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	n, err := cp.RequestsBy(k8stest.ExecutorUser)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// executorEventsSince lists the executor's requests after the first skip ones.
func executorEventsSince(t *testing.T, skip int) string {
	events, err := cp.AuditEvents()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	n := 0
	for _, ev := range events {
		if ev.Stage != k8stest.StageRequestReceived || ev.User != k8stest.ExecutorUser {
			continue
		}
		if n++; n > skip {
			fmt.Fprintf(&b, "  %s %s %s\n", ev.Received.Format(time.RFC3339Nano), ev.Verb, ev.RequestURI)
		}
	}
	return b.String()
}
