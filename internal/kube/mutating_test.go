package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubectlAdmin runs the kubectl binary as cluster-admin (the fullAccess
// identity the executor would have for mutating commands).
func kubectlAdmin(t testing.TB, ctx context.Context, args []string) (string, string, int) {
	t.Helper()
	out, errOut, err := cp.Kubectl(ctx, cp.AdminKubeconfig(), args...)
	return out, errOut, exitCodeOf(t, args, err)
}

// TestMutatingGolden applies the same sequence of changes with the kubectl
// binary to one fixture namespace and with the runner (ReadOnly=false) to an
// identical twin, and requires the same output, errors and exit codes at each
// step. The twin's namespace name is the only thing rewritten.
func TestMutatingGolden(t *testing.T) {
	kf, rf := newFixture(t), newFixture(t)
	r := newSARunner(t, Options{Config: cp.AdminConfig()})
	pod, pod2 := kf.webPods[0], kf.webPods[1]
	steps := []goldenCase{
		{name: "scale", args: []string{"scale", "deployment", "web", "--replicas=3"}},
		{name: "scale precondition", args: []string{"scale", "deployment", "web", "--replicas=3", "--current-replicas=5"}, fails: true},
		{name: "scale server dry run", args: []string{"scale", "deployment/web", "--replicas=9", "--dry-run=server"}},
		{name: "label", args: []string{"label", "pod", pod, "env=prod"}},
		{name: "label conflict", args: []string{"label", "pod", pod, "env=dev"}, fails: true},
		{name: "label overwrite", args: []string{"label", "pod", pod, "env=dev", "--overwrite"}},
		{name: "label list", args: []string{"label", "pod", pod, "--list"}, sortLines: true},
		{name: "label remove", args: []string{"label", "pod", pod, "env-"}},
		{name: "annotate", args: []string{"annotate", "deployment", "web", "owner=team-a"}},
		{name: "annotate conflict", args: []string{"annotate", "deployment", "web", "owner=team-b"}, fails: true},
		{name: "patch", args: []string{"patch", "deployment", "web", "-p", `{"spec":{"replicas":4}}`}},
		{name: "patch no change", args: []string{"patch", "deployment", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/replicas","value":4}]`}},
		{name: "patch invalid", args: []string{"patch", "deployment", "web", "-p", `{"spec":{"replicas":-1}}`}, fails: true},
		{name: "set image", args: []string{"set", "image", "deployment/web", "nginx=nginx:1.28"}},
		{name: "set image unknown container", args: []string{"set", "image", "deployment/web", "nope=busybox"}, fails: true},
		{name: "rollout pause", args: []string{"rollout", "pause", "deployment/web"}},
		{name: "rollout pause again", args: []string{"rollout", "pause", "deployment/web"}, fails: true},
		{name: "rollout resume", args: []string{"rollout", "resume", "deployment/web"}},
		{name: "rollout restart", args: []string{"rollout", "restart", "deployment/web"}},
		{name: "rollout undo", args: []string{"rollout", "undo", "deployment/web", "--to-revision=1"}},
		{name: "delete configmap", args: []string{"delete", "configmap", "web-config"}},
		{name: "delete pod now", args: []string{"delete", "pod", pod2, "--grace-period=0", "--force"}},
		{name: "delete missing", args: []string{"delete", "pod", "nope"}, fails: true},
		{name: "delete by empty selector", args: []string{"delete", "pods", "-l", "app=nothing"}},
		{name: "final state", args: []string{"get", "deploy,rs,pods,cm", "-o", "wide", "--show-labels"}, ages: true},
	}
	for _, c := range steps {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			kOut, kErr, kCode := kubectlAdmin(t, ctx, append(c.args, "-n", kf.ns))
			if (kCode != 0) != c.fails {
				t.Errorf("kubectl exited %d (fails=%v): %s", kCode, c.fails, kErr)
			}
			res := r.Run(ctx, append(c.args, "-n", rf.ns))
			twin := func(s string) string { return strings.ReplaceAll(s, rf.ns, kf.ns) }
			n := c.norm()
			if got, want := n.apply(twin(res.Output)), n.apply(kOut); got != want {
				t.Errorf("stdout differs\n--- kubectl\n%s\n--- runner\n%s", want, got)
			}
			if got, want := n.apply(twin(res.Error)), n.apply(kErr); got != want {
				t.Errorf("stderr differs\n--- kubectl\n%s\n--- runner\n%s", want, got)
			}
			if res.ExitCode != kCode {
				t.Errorf("exit code: runner %d, kubectl %d", res.ExitCode, kCode)
			}
		})
	}
}

// TestCordonGolden cordons and uncordons the shared node, first with kubectl
// and then with the runner, comparing each step.
func TestCordonGolden(t *testing.T) {
	needCluster(t)
	r := newSARunner(t, Options{Config: cp.AdminConfig()})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	steps := [][]string{{"cordon", goldenNode}, {"cordon", goldenNode}, {"uncordon", goldenNode}, {"uncordon", goldenNode}, {"cordon", "no-such-node"}}
	type out struct {
		stdout, stderr string
		code           int
	}
	var want, got []out
	for _, s := range steps {
		o, e, c := kubectlAdmin(t, ctx, s)
		want = append(want, out{o, e, c})
	}
	for _, s := range steps {
		res := r.Run(ctx, s)
		got = append(got, out{res.Output, res.Error, res.ExitCode})
	}
	for i := range steps {
		if got[i] != want[i] {
			t.Errorf("%v:\n runner  %+v\n kubectl %+v", steps[i], got[i], want[i])
		}
	}
	if want[0].stdout != "node/"+goldenNode+" cordoned\n" {
		t.Errorf("unexpected kubectl output %q", want[0].stdout)
	}
}

// TestExecGolden: with AllowExec the runner's exec equals kubectl's, through
// the API server's exec proxy to the kubelet stand-in's exec endpoint (the
// kubelet's own streaming server code): a command that succeeds, one that
// fails with an exit code and stderr, and the error cases.
func TestExecGolden(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pod, err := cp.AdminClient().CoreV1().Pods(f.ns).Get(ctx, f.webPods[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	container := pod.Spec.Containers[0].Name
	cp.Kubelet().SetExec(f.ns, f.webPods[0], container, func(cmd []string) (string, string, int) {
		switch strings.Join(cmd, " ") {
		case "cat /etc/hostname":
			return f.webPods[0] + "\n", "", 0
		case "ls /missing":
			return "", "ls: /missing: No such file or directory\n", 2
		}
		return "", "sh: " + cmd[0] + ": not found\n", 127
	})
	r := newSARunner(t, Options{Config: cp.AdminConfig(), ReadOnly: true, AllowExec: true})
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"exec", f.webPods[0], "-n", f.ns, "--", "cat", "/etc/hostname"}, true},
		{[]string{"exec", f.webPods[0], "-n", f.ns, "-c", container, "--", "ls", "/missing"}, false},
		{[]string{"exec", f.webPods[0], "-n", f.ns, "-c", "nope", "--", "true"}, false},
		{[]string{"exec", f.webPods[0], "-n", f.ns}, false},
		{[]string{"exec", "nope", "-n", f.ns, "--", "true"}, false},
	} {
		kOut, kErr, kCode := kubectlAdmin(t, ctx, tc.args)
		res := r.Run(ctx, tc.args)
		if res.Output != kOut || res.Error != stripKlog(kErr) || res.ExitCode != kCode {
			t.Errorf("%v:\n runner  %q %q %d\n kubectl %q %q %d", tc.args, res.Output, res.Error, res.ExitCode, kOut, kErr, kCode)
		}
		if (kCode == 0) != tc.ok {
			t.Errorf("%v: kubectl exit code %d (stdout %q, stderr %q), want success %v", tc.args, kCode, kOut, kErr, tc.ok)
		}
	}
	// Without AllowExec the read-only runner refuses exec before any request.
	ro := newSARunner(t, Options{Config: cp.AdminConfig(), ReadOnly: true})
	if res := ro.Run(ctx, []string{"exec", f.webPods[0], "-n", f.ns, "--", "cat", "/etc/hostname"}); res.ExitCode == 0 || strings.Contains(res.Output, f.webPods[0]) {
		t.Errorf("read-only runner ran exec: %+v", res)
	}
}

// TestDeleteWaitBoundedByDeadline: kubectl delete waits until the object is
// gone (a week by default). Without a kubelet a running pod never goes, so
// the runner hands delete the run's remaining time as --timeout and the
// command ends with kubectl's own timeout error before the deadline.
func TestDeleteWaitBoundedByDeadline(t *testing.T) {
	f := newFixture(t)
	r := newSARunner(t, Options{Config: cp.AdminConfig()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := r.Run(ctx, []string{"delete", "pod", f.webPods[0], "-n", f.ns})
	if ctx.Err() != nil {
		t.Errorf("the run's deadline, not kubectl's timeout, ended the command: %+v", res)
	}
	wantOut := `pod "` + f.webPods[0] + `" deleted from ` + f.ns + " namespace\n"
	if res.Output != wantOut || res.ExitCode != 1 || !strings.HasPrefix(res.Error, "error: timed out waiting for the condition on pods/"+f.webPods[0]) {
		t.Errorf("got %+v", res)
	}
}
