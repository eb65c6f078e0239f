package e2e

import (
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
)

// Output comparison. A command sent through the API and the same command run
// by the kubectl binary a moment later, with the same ServiceAccount, may
// differ in exactly three ways, and normalize removes only those:
//
//   - klog lines the kubectl binary writes to stderr (the executor routes
//     klog to its own log);
//   - relative ages ("4s", "3h12m", "(x12 over 50m)") when the case says so:
//     a second boundary may fall between the two runs (on such lines a
//     quantity like "100m" CPU is masked too);
//   - in lines where an age was masked, the column padding that depends on
//     the age's width.
var (
	klogPrefix = regexp.MustCompile(`^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [^ ]+:\d+\] `)
	relAge     = regexp.MustCompile(`\b(?:\d+[smhdy])+\b`)
	padding    = regexp.MustCompile(`  +`)
)

func normalize(s string, ages bool) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if klogPrefix.MatchString(l) {
			continue
		}
		if ages {
			if m := relAge.ReplaceAllStringFunc(l, maskAge); m != l {
				l = strings.TrimRight(padding.ReplaceAllString(m, " "), " ")
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// maskAge replaces a relative age. kubectl prints whole minutes only below
// three hours ("179m"), so a larger "Nm" is a quantity (CPU millicores).
func maskAge(tok string) string {
	if n, err := strconv.Atoi(strings.TrimSuffix(tok, "m")); err == nil && n >= 180 {
		return tok
	}
	return "<age>"
}

func TestNormalize(t *testing.T) {
	a := "NAME    READY   AGE\nshop    2/2     59s\n"
	b := "NAME    READY   AGE\nshop    2/2     1m\n"
	if normalize(a, true) != normalize(b, true) {
		t.Errorf("ages not masked: %q vs %q", normalize(a, true), normalize(b, true))
	}
	if normalize(a, false) == normalize(b, false) {
		t.Error("ages masked without being asked")
	}
	for _, other := range []string{"NAME    READY   AGE\nshop    1/2     59s\n", "NAME    READY   AGE\nshoq    2/2     59s\n", "NAME    READY   AGE\nshop    2/2     59s\n\n"} {
		if normalize(a, true) == normalize(other, true) {
			t.Errorf("normalize hides a real difference: %q", other)
		}
	}
	for _, keep := range []string{"10.88.0.21", "8000/TCP", "128Mi", "shop-7f9c8d5b4-k2x7p", "200m"} {
		if got := normalize(keep, true); got != keep {
			t.Errorf("normalize changed %q to %q", keep, got)
		}
	}
	if got := normalize("E1127 09:25:18.123456   4711 memcache.go:265] couldn't get resource list\nError from server\n", false); got != "Error from server\n" {
		t.Errorf("klog line kept: %q", got)
	}
}

// goldenCase is one command line run through Kubently and through kubectl.
type goldenCase struct {
	argv []string
	ages bool
	// only, when set, keeps just the stdout lines with one of these prefixes
	// (version: the client lines describe the binary, not the cluster).
	only []string
}

func keepPrefixed(s string, prefixes []string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func goldenCases(f *fixture) []goldenCase {
	ns, pod := f.ns, f.shopPods[0]
	c := func(ages bool, argv ...string) goldenCase { return goldenCase{argv: argv, ages: ages} }
	return []goldenCase{
		// get, in every output format and with the usual filters
		c(true, "get", "pods", "-n", ns),
		c(true, "get", "pods", "-n", ns, "-o", "wide"),
		c(false, "get", "pods", "-n", ns, "-o", "yaml"),
		c(false, "get", "pods", "-n", ns, "-o", "json"),
		c(false, "get", "pods", "-n", ns, "-o", "name"),
		c(false, "get", "pods", "-n", ns, "-o", `jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.podIP}{"\n"}{end}`),
		c(false, "get", "pods", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,IMAGES:.spec.containers[*].image,NODE:.spec.nodeName"),
		c(true, "get", "pods", "-n", ns, "-l", "app=shop"),
		c(true, "get", "pods", "-n", ns, "--field-selector", "metadata.name="+f.queuePod),
		c(true, "get", "pods", "-A"),
		c(true, "get", "pods", "--namespace="+ns, "--show-labels"),
		c(true, "get", "pods", "-n", ns, "--sort-by=.status.podIP"),
		c(true, "get", "deploy,rs,svc", "-n", ns),
		c(false, "get", "deployment", "shop", "-n", ns, "-o", "yaml"),
		c(true, "get", "nodes", "-o", "wide"),
		c(false, "get", "configmap", "shop-settings", "-n", ns, "-o", "json"),
		c(true, "get", "secrets", "-n", ns),
		c(true, "get", "events", "-n", ns),
		c(true, "get", "events", "-n", ns, "--field-selector", "type=Warning"),
		c(false, "get", "pods"), // the default namespace is empty: a note on stderr, exit 0
		// describe
		c(true, "describe", "pod", pod, "-n", ns),
		c(true, "describe", "pod", f.queuePod, "-n", ns),
		c(true, "describe", "deployment", "shop", "-n", ns),
		c(true, "describe", "node", fixtureNode),
		c(true, "describe", "secret", f.secret, "-n", ns),
		c(true, "describe", "service", "shop", "-n", ns),
		// explain, version, cluster-info, discovery
		c(false, "explain", "pods.spec.containers.livenessProbe"),
		c(false, "explain", "deployment.spec.strategy", "--recursive"),
		{argv: []string{"version"}, only: []string{"Server Version:"}},
		c(false, "cluster-info"),
		c(false, "api-resources"),
		c(false, "api-resources", "--namespaced=false", "-o", "wide"),
		c(false, "api-versions"),
		// logs through the kubelet stand-in
		c(false, "logs", pod, "-n", ns),
		c(false, "logs", pod, "-n", ns, "-c", "shop"),
		c(false, "logs", pod, "-n", ns, "--tail=2"),
		c(false, "logs", pod, "-n", ns, "--since=1h"),
		c(false, "logs", pod, "-n", ns, "--timestamps"),
		c(false, "logs", f.queuePod, "-n", ns, "-c", "consumer", "--previous"),
		c(false, "logs", f.queuePod, "-n", ns, "-c", "metrics"),
		c(false, "logs", "deployment/shop", "-n", ns, "--tail=1"),
		// events
		c(true, "events", "-n", ns),
		c(true, "events", "-n", ns, "--types=Warning"),
		c(true, "events", "-n", ns, "--for", "pod/"+f.queuePod),
		// top through the metrics stand-in
		c(false, "top", "pods", "-n", ns),
		c(false, "top", "pod", "-n", ns, "--containers"),
		c(false, "top", "nodes"),
		// rollout
		c(false, "rollout", "history", "deployment/shop", "-n", ns),
		c(false, "rollout", "history", "deployment/shop", "-n", ns, "--revision=1"),
		c(false, "rollout", "status", "deployment/shop", "-n", ns),
		c(false, "rollout", "status", "deployment", "billing", "-n", ns, "--watch=false"),
		c(false, "rollout", "status", "deployment/billing", "-n", ns, "--timeout=2s"),
		// auth can-i
		c(false, "auth", "can-i", "list", "pods", "--all-namespaces"),
		c(false, "auth", "can-i", "delete", "pods", "-n", ns), // "no", exit code 1
		c(false, "auth", "can-i", "get", "secrets", "-n", ns),
		c(false, "auth", "can-i", "--list", "-n", ns),
		// failures, with kubectl's error text and exit code
		c(false, "get", "pods", "nope", "-n", ns),
		c(true, "get", "pods", pod, "nope", "-n", ns),
		c(false, "get", "foo"),
		c(false, "get", "certificatesigningrequests"),
		c(false, "describe", "pod", "nope", "-n", ns),
		c(false, "logs", "nope", "-n", ns),
		c(false, "logs", pod, "-n", ns, "-c", "nope"),
		c(false, "logs", pod, "-n", ns, "--previous"),
		c(false, "rollout", "history", "deployment/nope", "-n", ns),
		c(false, "explain", "pods.spec.nope"),
		c(false, "top", "pod", "nope", "-n", ns),
	}
}

// TestEveryCommandMatchesKubectl sends every supported command type through
// POST /debug/execute (API process -> executor process -> kube-apiserver,
// with the read-only ServiceAccount) and compares the answer with what the
// kubectl binary prints for the same argv and credentials: stdout against
// output, and for failures stderr against error and the exit code.
func TestEveryCommandMatchesKubectl(t *testing.T) {
	s := theStack(t)
	sess := s.user.createSession(t, mainCluster)
	cases := goldenCases(fx)
	types := map[string]bool{}
	failures := 0
	for _, gc := range cases {
		types[gc.argv[0]] = true
		t.Run(join(gc.argv), func(t *testing.T) {
			ctx := ctxFor(t, 2*time.Minute)
			kOut, kErr, kerr := cp.Kubectl(ctx, saKubeconfig, gc.argv...)
			kCode := 0
			if kerr != nil {
				ee, ok := errorsAs[*exec.ExitError](kerr)
				if !ok {
					t.Fatalf("kubectl %s: %v", join(gc.argv), kerr)
				}
				kCode = ee.ExitCode()
				failures++
			}
			r := s.user.execute(t, mainCluster, sess, 60, gc.argv...)
			if r.status != http.StatusOK {
				t.Fatalf("kubectl %s: %s", join(gc.argv), r)
			}
			res := r.res
			if strings.Contains(res.Output+deref(res.Error), secretValue) {
				t.Fatalf("a secret value reached the client: %s", r)
			}
			wantOut, gotOut := normalize(kOut, gc.ages), normalize(res.Output, gc.ages)
			if gc.only != nil {
				wantOut, gotOut = keepPrefixed(wantOut, gc.only), keepPrefixed(gotOut, gc.only)
				if wantOut == "" {
					t.Fatalf("kubectl printed none of %q:\n%s", gc.only, kOut)
				}
			}
			if gotOut != wantOut {
				t.Errorf("output differs from kubectl's stdout\n--- kubectl\n%s\n--- kubently\n%s\n--- first difference\n%s", wantOut, gotOut, firstDiff(wantOut, gotOut))
			}
			if res.ExitCode == nil || *res.ExitCode != kCode {
				t.Errorf("exit_code %v, kubectl exited %d (stderr %q)", res.ExitCode, kCode, kErr)
			}
			if kCode == 0 {
				if res.Status != api.StatusCompleted {
					t.Errorf("status %q, want completed (error %q)", res.Status, deref(res.Error))
				}
				return
			}
			if res.Status != api.StatusFailed {
				t.Errorf("status %q, want failed", res.Status)
			}
			if res.Error == nil || normalize(*res.Error, gc.ages) != normalize(kErr, gc.ages) {
				t.Errorf("error differs from kubectl's stderr\n--- kubectl\n%s\n--- kubently\n%s", normalize(kErr, gc.ages), normalize(deref(res.Error), gc.ages))
			}
		})
	}
	for _, verb := range []string{"get", "describe", "explain", "version", "cluster-info", "logs", "events", "top", "api-resources", "api-versions", "rollout", "auth"} {
		if !types[verb] {
			t.Errorf("no golden case for command type %q", verb)
		}
	}
	if failures < 10 {
		t.Errorf("only %d of the cases fail in kubectl; the error path needs more coverage", failures)
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  kubectl:  " + wl + "\n  kubently: " + gl
		}
	}
	return "(none)"
}
