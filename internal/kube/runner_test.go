package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/kubectl/pkg/cmd/apiresources"
	"k8s.io/kubectl/pkg/cmd/auth"
	"k8s.io/kubectl/pkg/cmd/clusterinfo"
	"k8s.io/kubectl/pkg/cmd/describe"
	"k8s.io/kubectl/pkg/cmd/events"
	cmdexec "k8s.io/kubectl/pkg/cmd/exec"
	"k8s.io/kubectl/pkg/cmd/explain"
	"k8s.io/kubectl/pkg/cmd/get"
	"k8s.io/kubectl/pkg/cmd/logs"
	"k8s.io/kubectl/pkg/cmd/rollout"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/cmd/version"
)

// offlineRunner returns a Runner whose API server does not exist: enough for
// everything that is decided before a request is sent.
func offlineRunner(t testing.TB, readOnly bool) *Runner {
	t.Helper()
	r, err := NewRunner(Options{Config: &rest.Config{Host: "https://127.0.0.1:1"}, ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRunnerValidates(t *testing.T) {
	if _, err := NewRunner(Options{}); err == nil {
		t.Error("nil Config accepted")
	}
	if _, err := NewRunner(Options{Config: &rest.Config{}}); err == nil {
		t.Error("empty Host accepted")
	}
}

// TestRefusedBeforeAnyRequest covers everything the runner rejects itself,
// with the message the caller sees.
func TestRefusedBeforeAnyRequest(t *testing.T) {
	r := offlineRunner(t, true)
	cases := []struct {
		argv []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"apply", "-f", "x.yaml"}, `"apply" is not a supported kubectl command; supported commands: api-resources, api-versions, auth can-i, cluster-info, describe, events, exec, explain, get, logs, rollout history, rollout status, top node, top pod, version`},
		{[]string{"config", "view"}, `"config" is not a supported kubectl command`},
		{[]string{"rollout"}, `"kubectl rollout" needs a subcommand; supported: rollout history`},
		{[]string{"auth", "whoami"}, `"kubectl auth" needs a subcommand`},
		{[]string{"delete", "pod", "x"}, `"delete" changes the cluster and is not allowed in read-only mode`},
		{[]string{"rollout", "restart", "deploy/x"}, `"rollout restart" changes the cluster`},
		{[]string{"exec", "p", "--", "ls"}, `"exec" is not allowed in this security mode`},
		{[]string{"get", "pods", "-w"}, "--watch and --watch-only are not supported"},
		{[]string{"get", "pods", "--watch-only"}, "--watch and --watch-only are not supported"},
		{[]string{"events", "--watch"}, "--watch and --watch-only are not supported"},
		{[]string{"get", "-f", "/etc/passwd"}, "--filename is not supported"},
		{[]string{"get", "-k", "dir"}, "--kustomize is not supported"},
		{[]string{"describe", "-f", "https://example.com/x.yaml"}, "--filename is not supported"},
		{[]string{"get", "pods", "-o", "jsonpath-file=/etc/passwd"}, `output format "jsonpath-file" is not supported`},
		{[]string{"get", "pods", "-o", "go-template-file=/etc/passwd"}, `output format "go-template-file" is not supported`},
		{[]string{"get", "pods", "--kubeconfig", "/root/.kube/config"}, "flag --kubeconfig is not supported"},
		{[]string{"get", "pods", "--token=abc", "--as", "admin"}, "flag --as, --token is not supported"},
		{[]string{"get", "pods", "-s", "https://evil"}, "flag --server is not supported"},
		{[]string{"get", "pods", "--as-group=system:masters"}, "flag --as-group is not supported"},
		{[]string{"get", "pods", "--insecure-skip-tls-verify"}, "flag --insecure-skip-tls-verify is not supported"},
		{[]string{"get", "pods", "-v=9"}, "flag --v is not supported"},
		{[]string{"get", "pods", "--help"}, "--help is not available in-process"},
		{[]string{"cluster-info", "dump"}, `"cluster-info dump" is not supported`},
		{[]string{"get", "pods", "--bogus"}, "error: unknown flag: --bogus\nSee 'kubectl get --help' for usage.\n"},
	}
	for _, c := range cases {
		res := r.Run(context.Background(), c.argv)
		if res.ExitCode != 1 || !strings.Contains(res.Error, c.want) || res.Output != "" {
			t.Errorf("%q:\n got %+v\nwant error containing %q", c.argv, res, c.want)
		}
	}
	full := offlineRunner(t, false)
	res := full.Run(context.Background(), []string{"frobnicate"})
	if !strings.Contains(res.Error, "delete, describe") || !strings.Contains(res.Error, "set image") {
		t.Errorf("full-access supported list: %q", res.Error)
	}
	res = full.Run(context.Background(), []string{"scale", "deployment", "x"})
	if res.ExitCode != 1 || res.Error != "error: required flag(s) \"replicas\" not set\n" {
		t.Errorf("missing required flag: %+v", res)
	}
}

func TestSupportedVerbs(t *testing.T) {
	got := strings.Join(SupportedVerbs(), ",")
	want := "annotate,api-resources,api-versions,auth,cluster-info,cordon,delete,describe,events,exec,explain,get,label,logs,patch,rollout,scale,set,top,uncordon,version"
	if got != want {
		t.Errorf("SupportedVerbs = %s", got)
	}
	n := 0
	for _, c := range SupportedCommands() {
		if c.Mutating {
			n++
		}
	}
	if n != 12 {
		t.Errorf("%d mutating commands", n)
	}
}

// TestExpiredContext: a command whose deadline already passed never starts.
func TestExpiredContext(t *testing.T) {
	var log requestLog
	r, err := NewRunner(Options{Config: log.wrap(&rest.Config{Host: "https://127.0.0.1:1"})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	res := r.Run(ctx, []string{"get", "pods"})
	if res.ExitCode != 1 || !strings.Contains(res.Error, "not started: context deadline exceeded") {
		t.Errorf("%+v", res)
	}
	if len(log.all()) != 0 {
		t.Errorf("requests sent: %v", log.all())
	}
}

func TestFormatError(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	cases := []struct {
		err  error
		msg  string
		code int
	}{
		{apierrors.NewNotFound(gr, "x"), `Error from server (NotFound): pods "x" not found`, 1},
		{utilerrors.NewAggregate([]error{apierrors.NewNotFound(gr, "x")}), `Error from server (NotFound): pods "x" not found`, 1},
		{utilerrors.NewAggregate([]error{apierrors.NewNotFound(gr, "x"), apierrors.NewNotFound(gr, "y")}),
			"Error from server (NotFound): pods \"x\" not found\nError from server (NotFound): pods \"y\" not found\n", 1},
		{&meta.NoResourceMatchError{PartialResource: schema.GroupVersionResource{Resource: "foo"}}, `the server doesn't have a resource type "foo"`, 1},
		{&meta.NoResourceMatchError{PartialResource: schema.GroupVersionResource{Group: "apps", Resource: "foo"}}, `the server doesn't have a resource type "foo" in group "apps"`, 1},
		{apierrors.NewUnauthorized("bad token"), "error: You must be logged in to the server (bad token)", 1},
		{apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "p", nil), `The Pod "p" is invalid`, 1},
		{errors.New("boom"), "error: boom", 1},
		{errors.New("error: already prefixed"), "error: already prefixed", 1},
		{cmdutil.ErrExit, "", 1},
		{exitStatusError{code: 3}, "command terminated with exit code 3", 3},
	}
	for _, c := range cases {
		msg, code := formatError(c.err)
		if msg != c.msg || code != c.code {
			t.Errorf("formatError(%v) = %q, %d; want %q, %d", c.err, msg, code, c.msg, c.code)
		}
	}
}

// exitStatusError is a k8s.io/utils/exec.ExitError, what `kubectl exec`
// returns when the remote command fails.
type exitStatusError struct{ code int }

func (e exitStatusError) Error() string {
	return fmt.Sprintf("command terminated with exit code %d", e.code)
}
func (e exitStatusError) String() string  { return e.Error() }
func (e exitStatusError) Exited() bool    { return true }
func (e exitStatusError) ExitStatus() int { return e.code }

// TestFatalExitsAreTrapped: once a Runner exists, klog.Fatal and
// cmdutil.CheckErr no longer end the process; they panic with what they
// would have printed, which Run turns into a Result.
func TestFatalExitsAreTrapped(t *testing.T) {
	offlineRunner(t, true)
	trap := func(f func()) (p any) {
		defer func() { p = recover() }()
		f()
		return nil
	}
	if p, ok := trap(func() { klog.Fatal("library gave up") }).(klogExit); !ok || p.code != 255 {
		t.Errorf("klog.Fatal: %#v", p)
	}
	p, ok := trap(func() { cmdutil.CheckErr(apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "x")) }).(fatalExit)
	if !ok || p.code != 1 || p.msg != `Error from server (NotFound): pods "x" not found` {
		t.Errorf("CheckErr: %#v", p)
	}
}

func TestCapWriter(t *testing.T) {
	w := newCapWriter(10)
	fmt.Fprint(w, "héllo wörld, more")
	got, cut := w.String()
	if !cut || got != "héllo wö"+truncationNote(10) {
		t.Errorf("%q %v", got, cut)
	}
	w = newCapWriter(10)
	fmt.Fprint(w, "0123456789")
	if got, cut := w.String(); cut || got != "0123456789" {
		t.Errorf("exactly at the limit: %q %v", got, cut)
	}
}

// flagSig describes a flag as a user sees it.
func flagSig(fs *pflag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		out = append(out, fmt.Sprintf("--%s -%s %s default=%q deprecated=%v hidden=%v", f.Name, f.Shorthand, f.Value.Type(), f.DefValue, f.Deprecated != "", f.Hidden))
	})
	sort.Strings(out)
	return out
}

// TestFlagParity: the commands whose flags the runner registers itself (the
// options structs are kubectl's, the cobra commands are not) accept exactly
// the flags of kubectl's own commands, with the same shorthands, types and
// defaults.
func TestFlagParity(t *testing.T) {
	r := offlineRunner(t, true)
	e := newRunEnv(r, context.Background(), newCapWriter(1024), newCapWriter(1024))
	f := cmdutil.NewFactory(genericclioptions.NewConfigFlags(false))
	streams := genericiooptions.NewTestIOStreamsDiscard()
	pairs := []struct {
		name           string
		ours, kubectls *cobra.Command
	}{
		{"get", e.newGet(), get.NewCmdGet(cliName, f, streams)},
		{"describe", e.newDescribe(), describe.NewCmdDescribe(cliName, f, streams)},
		{"explain", e.newExplain(), explain.NewCmdExplain(cliName, f, streams)},
		{"version", e.newVersion(), version.NewCmdVersion(f, streams)},
		{"cluster-info", e.newClusterInfo(), clusterinfo.NewCmdClusterInfo(f, streams)},
		{"logs", e.newLogs(), logs.NewCmdLogs(f, streams)},
		{"events", e.newEvents(), events.NewCmdEvents(f, streams)},
		{"api-resources", e.newAPIResources(), apiresources.NewCmdAPIResources(f, streams)},
		{"api-versions", e.newAPIVersions(), apiresources.NewCmdAPIVersions(f, streams)},
		{"rollout history", e.newRolloutHistory(), rollout.NewCmdRolloutHistory(f, streams)},
		{"rollout status", e.newRolloutStatus(), rollout.NewCmdRolloutStatus(f, streams)},
		{"auth can-i", e.newCanI(), auth.NewCmdCanI(f, streams)},
		{"exec", e.newExec(), cmdexec.NewCmdExec(f, streams)},
	}
	for _, p := range pairs {
		ours, theirs := flagSig(p.ours.Flags()), flagSig(p.kubectls.Flags())
		if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
			t.Errorf("%s flags differ\n--- runner\n%s\n--- kubectl\n%s", p.name, strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
		}
	}
}

// TestOutputCap: output beyond MaxOutputBytes is cut, says so, and is a
// prefix of the full output; the exit code is the command's.
func TestOutputCap(t *testing.T) {
	f := newFixture(t)
	argv := []string{"get", "pods", "-n", f.ns, "-o", "yaml"}
	full := newSARunner(t, Options{ReadOnly: true}).Run(context.Background(), argv)
	if full.ExitCode != 0 || full.Truncated || len(full.Output) < 2000 {
		t.Fatalf("full run: %d bytes, %+v", len(full.Output), full.ExitCode)
	}
	const limit = 1000
	res := newSARunner(t, Options{ReadOnly: true, MaxOutputBytes: limit}).Run(context.Background(), argv)
	note := "\n[output truncated by kubently: limit 1000 bytes]\n"
	if !res.Truncated || res.ExitCode != 0 || !strings.HasSuffix(res.Output, note) {
		t.Fatalf("capped run: truncated=%v exit=%d tail=%q", res.Truncated, res.ExitCode, res.Output[max(0, len(res.Output)-80):])
	}
	kept := strings.TrimSuffix(res.Output, note)
	if len(kept) != limit || !strings.HasPrefix(full.Output, kept) {
		t.Errorf("kept %d bytes, prefix of full output: %v", len(kept), strings.HasPrefix(full.Output, kept))
	}
}

// TestDeadlineStopsCommand: `logs -f` never ends by itself; the run's
// deadline stops it, with the lines printed so far and a clear error.
func TestDeadlineStopsCommand(t *testing.T) {
	f := newFixture(t)
	r := newSARunner(t, Options{ReadOnly: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	res := r.Run(ctx, []string{"logs", "-f", f.webPods[0], "-n", f.ns})
	took := time.Since(start)
	if took > 3*time.Second+cancelGrace+time.Second {
		t.Errorf("Run returned %v after a 3s deadline", took)
	}
	if res.ExitCode != 1 || !strings.Contains(res.Error, "stopped: context deadline exceeded") {
		t.Errorf("result: %+v", res)
	}
	if !strings.Contains(res.Output, "nginx: starting") || !strings.Contains(res.Output, "/missing") {
		t.Errorf("lines before the deadline missing: %q", res.Output)
	}

	// A cancelled caller stops a waiting rollout status just the same.
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel2)
	res = r.Run(ctx2, []string{"rollout", "status", "deployment/api", "-n", f.ns})
	if res.ExitCode != 1 || !strings.Contains(res.Error, "stopped: context canceled") || !strings.Contains(res.Output, "Waiting for deployment \"api\" rollout to finish") {
		t.Errorf("rollout status after cancel: %+v", res)
	}
}

// TestConcurrentRuns: the executor runs up to 8 commands at once; under
// -race, every concurrent result must equal the sequential one.
func TestConcurrentRuns(t *testing.T) {
	f := newFixture(t)
	r := newSARunner(t, Options{ReadOnly: true})
	ns := f.ns
	commands := [][]string{
		{"get", "pods", "-n", ns, "-o", "wide"},
		{"describe", "deployment", "web", "-n", ns},
		{"logs", f.webPods[0], "-n", ns, "--tail=2"},
		{"get", "secret", f.secret, "-n", ns, "-o", "yaml"},
		{"events", "-n", ns},
		{"top", "pods", "-n", ns},
		{"get", "pods", "nonexistent", "-n", ns},
		{"auth", "can-i", "list", "pods", "-n", ns},
		{"rollout", "history", "deployment/web", "-n", ns},
		{"api-resources", "--api-group=apps"},
	}
	norm := normalizer{maskAges: true}
	want := make([]Result, len(commands))
	for i, argv := range commands {
		want[i] = r.Run(context.Background(), argv)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(commands))
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range commands {
				i := (k + w) % len(commands)
				got := r.Run(context.Background(), commands[i])
				if norm.apply(got.Output) != norm.apply(want[i].Output) || norm.apply(got.Error) != norm.apply(want[i].Error) || got.ExitCode != want[i].ExitCode {
					errs <- fmt.Sprintf("worker %d %v:\n got %+v\nwant %+v", w, commands[i], got, want[i])
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestDiscoveryPicksUpNewResourceTypes: the shared discovery cache does not
// hide a CustomResourceDefinition created after it was filled.
func TestDiscoveryPicksUpNewResourceTypes(t *testing.T) {
	f := newFixture(t)
	r := newSARunner(t, Options{Config: cp.AdminConfig(), ReadOnly: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if res := r.Run(ctx, []string{"get", "gadgets", "-n", f.ns}); res.ExitCode != 1 || res.Error != "error: the server doesn't have a resource type \"gadgets\"\n" {
		t.Fatalf("before the CRD: %+v", res)
	}
	group := "t" + strings.ToLower(strings.ReplaceAll(f.ns, "-", "")) + ".kubently.test"
	createCRD(t, ctx, group, "gadgets", "Gadget")
	time.Sleep(discoveryMinAge)
	res := r.Run(ctx, []string{"get", "gadgets", "-n", f.ns})
	if res.ExitCode != 0 || res.Error != "No resources found in "+f.ns+" namespace.\n" {
		t.Errorf("after the CRD: %+v", res)
	}
}

// TestDiscoveryOrderIsStable: resource lists come back in discovery order on
// every call, like kubectl's disk cache (categories such as "all" and
// short-name resolution depend on it).
func TestDiscoveryOrderIsStable(t *testing.T) {
	needCluster(t)
	r := newSARunner(t, Options{ReadOnly: true})
	order := func() string {
		_, lists, err := r.disco.ServerGroupsAndResources()
		if err != nil {
			t.Fatal(err)
		}
		var gvs []string
		for _, l := range lists {
			gvs = append(gvs, l.GroupVersion)
		}
		return strings.Join(gvs, " ")
	}
	first := order()
	if !strings.HasPrefix(first, "v1 ") {
		t.Errorf("core group is not first: %s", first)
	}
	for i := 0; i < 20; i++ {
		if got := order(); got != first {
			t.Fatalf("order changed:\n%s\n%s", first, got)
		}
	}
}
