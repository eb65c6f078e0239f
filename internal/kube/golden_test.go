package kube

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goldenCase is one command form run by both the kubectl binary and the runner.
type goldenCase struct {
	name string
	args []string
	// ages masks relative ages (see normalizer) in stdout and stderr.
	ages bool
	// fails marks the cases where kubectl itself exits non-zero; every other
	// case must succeed, so a comparison of two identical errors (a missing
	// permission, say) cannot pass for a success.
	fails bool
	// sortLines compares the lines of stdout as a set, for outputs whose
	// order kubectl itself takes from Go map iteration (label --list).
	sortLines bool
	// lines, when set, keeps only the output lines with one of these
	// prefixes before comparing (used for `version`, whose client and
	// kustomize lines describe the binary, not the cluster).
	lines []string
}

func (c goldenCase) norm() normalizer { return normalizer{maskAges: c.ages, sortLines: c.sortLines} }

// kubectlRun runs the real kubectl binary with the read-only ServiceAccount's
// kubeconfig and returns its stdout, stderr and exit code.
func kubectlRun(t testing.TB, ctx context.Context, args []string) (string, string, int) {
	t.Helper()
	out, errOut, err := cp.Kubectl(ctx, saKubeconfig, args...)
	return out, errOut, exitCodeOf(t, args, err)
}

// exitCodeOf turns the error of a finished kubectl process into its exit code.
func exitCodeOf(t testing.TB, args []string, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return ee.ExitCode()
}

func newSARunner(t testing.TB, opts Options) *Runner {
	t.Helper()
	needCluster(t)
	if opts.Config == nil {
		opts.Config = saConfig
	}
	r, err := NewRunner(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func keepLines(s string, prefixes []string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

// compareWithKubectl runs c with both and reports every difference.
func compareWithKubectl(t *testing.T, r *Runner, c goldenCase) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kOut, kErr, kCode := kubectlRun(t, ctx, c.args)
	if (kCode != 0) != c.fails {
		t.Errorf("kubectl %s exited %d (fails=%v): %s", strings.Join(c.args, " "), kCode, c.fails, kErr)
	}
	res := r.Run(ctx, c.args)

	if klogLine.MatchString(res.Error) {
		t.Errorf("runner stderr contains klog output:\n%s", res.Error)
	}
	if res.Truncated {
		t.Errorf("unexpected truncation")
	}
	n := c.norm()
	wantOut, gotOut := n.apply(kOut), n.apply(res.Output)
	wantErr, gotErr := n.apply(kErr), n.apply(res.Error)
	if c.lines != nil {
		wantOut, gotOut = keepLines(wantOut, c.lines), keepLines(gotOut, c.lines)
		if wantOut == "" {
			t.Errorf("kubectl printed none of the lines %q:\n%s", c.lines, kOut)
		}
	}
	if gotOut != wantOut {
		t.Errorf("stdout differs for kubectl %s\n--- kubectl\n%s\n--- runner\n%s\n--- diff\n%s", strings.Join(c.args, " "), wantOut, gotOut, lineDiff(wantOut, gotOut))
	}
	if gotErr != wantErr {
		t.Errorf("stderr differs for kubectl %s\n--- kubectl\n%s\n--- runner\n%s", strings.Join(c.args, " "), wantErr, gotErr)
	}
	if res.ExitCode != kCode {
		t.Errorf("exit code for kubectl %s: runner %d, kubectl %d (stderr %q)", strings.Join(c.args, " "), res.ExitCode, kCode, kErr)
	}
}

// lineDiff lists the first lines that differ, to make failures readable.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  kubectl: " + wl + "\n  runner:  " + gl + "\n")
			if shown++; shown == 5 {
				break
			}
		}
	}
	return b.String()
}

// TestGolden runs every supported read-only command form through the kubectl
// binary and the runner, with the executor's read-only ServiceAccount, and
// requires identical stdout, stderr and exit codes.
func TestGolden(t *testing.T) {
	f := newFixture(t)
	ns := f.ns
	pod := f.webPods[0]
	r := newSARunner(t, Options{ReadOnly: true})

	cases := []goldenCase{
		// get: every output format and the common filters.
		{name: "get pods", args: []string{"get", "pods", "-n", ns}, ages: true},
		{name: "get pods wide", args: []string{"get", "pods", "-n", ns, "-o", "wide"}, ages: true},
		{name: "get pods yaml", args: []string{"get", "pods", "-n", ns, "-o", "yaml"}},
		{name: "get pods json", args: []string{"get", "pods", "-n", ns, "-o", "json"}},
		{name: "get pods name", args: []string{"get", "pods", "-n", ns, "-o", "name"}},
		{name: "get pods jsonpath", args: []string{"get", "pods", "-n", ns, "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.status.podIP}{\"\\n\"}{end}"}},
		{name: "get pods custom-columns", args: []string{"get", "pods", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,IMAGES:.spec.containers[*].image"}},
		{name: "get pods go-template", args: []string{"get", "pods", "-n", ns, "-o", "go-template={{range .items}}{{.metadata.name}} {{end}}"}},
		{name: "get pods selector", args: []string{"get", "pods", "-n", ns, "-l", "app=web"}, ages: true},
		{name: "get pods field selector", args: []string{"get", "pods", "-n", ns, "--field-selector", "metadata.name=" + f.crashPod}, ages: true},
		{name: "get pods all namespaces", args: []string{"get", "pods", "-A"}, ages: true},
		{name: "get pods show labels", args: []string{"get", "pods", "-n", ns, "--show-labels"}, ages: true},
		{name: "get pods sort by", args: []string{"get", "pods", "-n", ns, "--sort-by=.status.podIP"}, ages: true},
		{name: "get pods no headers", args: []string{"get", "pods", "-n", ns, "--no-headers"}, ages: true},
		{name: "get one pod", args: []string{"get", "pod", pod, "-n", ns}, ages: true},
		{name: "get pod by type/name yaml", args: []string{"get", "pod/" + f.crashPod, "-n", ns, "-o", "yaml"}},
		{name: "get several types", args: []string{"get", "deploy,rs,svc", "-n", ns}, ages: true},
		{name: "get all", args: []string{"get", "all", "-n", ns}, ages: true},
		{name: "get deployment yaml", args: []string{"get", "deployment", "web", "-n", ns, "-o", "yaml"}},
		{name: "get deployments wide", args: []string{"get", "deployments", "-n", ns, "-o", "wide"}, ages: true},
		{name: "get nodes", args: []string{"get", "nodes"}, ages: true},
		{name: "get nodes wide", args: []string{"get", "nodes", "-o", "wide"}, ages: true},
		{name: "get events", args: []string{"get", "events", "-n", ns}, ages: true},
		{name: "get secrets", args: []string{"get", "secrets", "-n", ns}, ages: true},
		{name: "get endpoints (deprecation warning)", args: []string{"get", "endpoints", "-n", ns}, ages: true},
		{name: "get configmap json", args: []string{"get", "configmap", "web-config", "-n", ns, "-o", "json"}},
		{name: "get in default namespace (empty)", args: []string{"get", "pods"}},
		{name: "get short name", args: []string{"get", "deploy", "-n", ns}, ages: true},
		{name: "get with underscore flag", args: []string{"get", "pods", "--all_namespaces"}, ages: true},
		{name: "global flag before the verb", args: []string{"-n", ns, "get", "pods"}, ages: true},
		{name: "warnings as errors", args: []string{"get", "endpoints", "-n", ns, "--warnings-as-errors"}, ages: true, fails: true},

		// describe.
		{name: "describe pod", args: []string{"describe", "pod", pod, "-n", ns}, ages: true},
		{name: "describe crashing pod", args: []string{"describe", "pod", f.crashPod, "-n", ns}, ages: true},
		{name: "describe pods by selector", args: []string{"describe", "pods", "-n", ns, "-l", "app=web"}, ages: true},
		{name: "describe deployment", args: []string{"describe", "deployment", "web", "-n", ns}, ages: true},
		{name: "describe node", args: []string{"describe", "node", goldenNode}, ages: true},
		{name: "describe service", args: []string{"describe", "service", "web", "-n", ns}, ages: true},
		{name: "describe secret", args: []string{"describe", "secret", f.secret, "-n", ns}, ages: true},
		{name: "describe configmap", args: []string{"describe", "configmap", "web-config", "-n", ns}, ages: true},

		// logs.
		{name: "logs", args: []string{"logs", pod, "-n", ns}},
		{name: "logs container", args: []string{"logs", pod, "-n", ns, "-c", "nginx"}},
		{name: "logs tail", args: []string{"logs", pod, "-n", ns, "--tail=2"}},
		{name: "logs since", args: []string{"logs", pod, "-n", ns, "--since=1h"}},
		{name: "logs timestamps", args: []string{"logs", pod, "-n", ns, "--timestamps"}},
		{name: "logs previous", args: []string{"logs", f.crashPod, "-n", ns, "-c", "app", "--previous"}},
		{name: "logs default container", args: []string{"logs", f.crashPod, "-n", ns}},
		{name: "logs deployment", args: []string{"logs", "deployment/web", "-n", ns, "--tail=1"}},
		{name: "logs prefix", args: []string{"logs", pod, "-n", ns, "--prefix", "--tail=1"}},
		{name: "logs previous missing", args: []string{"logs", pod, "-n", ns, "--previous"}, fails: true},

		// events.
		{name: "events", args: []string{"events", "-n", ns}, ages: true},
		{name: "events warnings", args: []string{"events", "-n", ns, "--types=Warning"}, ages: true},
		{name: "events for", args: []string{"events", "-n", ns, "--for", "pod/" + f.crashPod}, ages: true},
		{name: "events yaml", args: []string{"events", "-n", ns, "-o", "yaml"}},

		// top.
		{name: "top pods", args: []string{"top", "pods", "-n", ns}},
		{name: "top pod containers", args: []string{"top", "pod", "-n", ns, "--containers"}},
		{name: "top pods sorted", args: []string{"top", "pod", "-n", ns, "--sort-by=cpu"}},
		{name: "top nodes", args: []string{"top", "nodes"}},

		// explain, discovery, cluster.
		{name: "explain pods.spec", args: []string{"explain", "pods.spec"}},
		{name: "explain deployment strategy", args: []string{"explain", "deployment.spec.strategy", "--recursive"}},
		{name: "api-resources", args: []string{"api-resources"}},
		{name: "api-resources cluster-scoped wide", args: []string{"api-resources", "--namespaced=false", "-o", "wide"}},
		{name: "api-versions", args: []string{"api-versions"}},
		{name: "cluster-info", args: []string{"cluster-info"}},
		{name: "version", args: []string{"version"}, lines: []string{"Server Version:"}},
		{name: "version json server", args: []string{"version", "-o", "json"}, lines: []string{`    "gitVersion": "v1.37`, `    "major"`}},

		// rollout.
		{name: "rollout history", args: []string{"rollout", "history", "deployment/web", "-n", ns}},
		{name: "rollout history revision", args: []string{"rollout", "history", "deployment/web", "-n", ns, "--revision=2"}},
		{name: "rollout status done", args: []string{"rollout", "status", "deployment/web", "-n", ns}},
		{name: "rollout status no watch", args: []string{"rollout", "status", "deployment", "api", "-n", ns, "--watch=false"}},
		{name: "rollout status timeout", args: []string{"rollout", "status", "deployment/api", "-n", ns, "--timeout=2s"}, fails: true},

		// auth can-i (SelfSubjectAccessReview / SelfSubjectRulesReview).
		{name: "can-i list pods", args: []string{"auth", "can-i", "list", "pods"}},
		{name: "can-i create pods", args: []string{"auth", "can-i", "create", "pods"}, fails: true},
		{name: "can-i get secrets in namespace", args: []string{"auth", "can-i", "get", "secrets", "-n", ns}},
		{name: "can-i list", args: []string{"auth", "can-i", "--list", "-n", ns}},

		// errors, as kubectl prints them.
		{name: "not found", args: []string{"get", "pods", "nonexistent", "-n", ns}, fails: true},
		{name: "not found among found", args: []string{"get", "pods", pod, "nonexistent", "-n", ns}, ages: true, fails: true},
		{name: "unknown resource type", args: []string{"get", "foo"}, fails: true},
		{name: "unknown resource type in group", args: []string{"get", "foo.apps"}, fails: true},
		{name: "bad flag", args: []string{"get", "pods", "--bogus"}, fails: true},
		{name: "bad shorthand flag", args: []string{"get", "pods", "-Z"}, fails: true},
		{name: "bad output format", args: []string{"get", "pods", "-n", ns, "-o", "yamlx"}, fails: true},
		{name: "missing resource type", args: []string{"get"}, fails: true},
		{name: "forbidden", args: []string{"get", "certificatesigningrequests"}, fails: true},
		{name: "describe not found", args: []string{"describe", "pod", "nope", "-n", ns}, fails: true},
		{name: "logs not found", args: []string{"logs", "nope", "-n", ns}, fails: true},
		{name: "logs bad container", args: []string{"logs", pod, "-n", ns, "-c", "nope"}, fails: true},
		{name: "rollout history not found", args: []string{"rollout", "history", "deployment/nope", "-n", ns}, fails: true},
		{name: "explain unknown", args: []string{"explain", "pods.spec.nope"}, fails: true},
		{name: "top pod not found", args: []string{"top", "pod", "nope", "-n", ns}, fails: true},
		{name: "bad request timeout", args: []string{"get", "pods", "--request-timeout=abc"}, fails: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { compareWithKubectl(t, r, c) })
	}
}
