package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/testkit"
)

// Each resilience test has its own API process, executor and cluster id, so
// they run in parallel with each other (after the golden and refusal tests,
// which count the ServiceAccount's requests).

// rig is one API process and the clients of its two principals.
type rig struct {
	api   *apiProc
	admin *client
	user  *client
}

func newRig(t *testing.T, extraEnv ...string) *rig {
	a := startAPI(t, extraEnv...)
	return &rig{api: a, admin: newClient(a.url(), adminKey), user: newClient(a.url(), userKey)}
}

// connect registers cluster, starts its executor (against apiURL, the API's
// own URL unless a proxy is in between) and waits for its stream.
func (r *rig) connect(t *testing.T, cluster, apiURL string) (*execProc, string) {
	t.Helper()
	if apiURL == "" {
		apiURL = r.api.url()
	}
	token := r.admin.register(t, cluster)
	ex := startExecutor(t, executorOpts{apiURL: apiURL, cluster: cluster, token: token})
	r.admin.waitStreams(t, cluster, 1, 2*time.Minute)
	return ex, token
}

// namespace creates a namespace for one test's deployments.
func namespace(t *testing.T, name string) string {
	t.Helper()
	if err := ensureNamespace(ctxFor(t, time.Minute), name); err != nil {
		t.Fatal(err)
	}
	return name
}

func stuck(t *testing.T, ns, name string) {
	t.Helper()
	if _, err := stuckDeployment(ctxFor(t, time.Minute), ns, name); err != nil {
		t.Fatal(err)
	}
}

func complete(t *testing.T, ns, name string) {
	t.Helper()
	if err := completeRollout(ctxFor(t, time.Minute), ns, name); err != nil {
		t.Fatal(err)
	}
}

// mustWork runs a quick command and requires it to complete.
func (r *rig) mustWork(t *testing.T, cluster, session string) {
	t.Helper()
	res := r.user.execute(t, cluster, session, 30, "get", "pods", "-n", fx.ns, "-o", "name")
	if res.status != http.StatusOK || res.res.Status != api.StatusCompleted || !strings.Contains(res.res.Output, "pod/"+fx.shopPods[0]) {
		t.Fatalf("command on %s: %s", cluster, res)
	}
}

func rolledOut(name string) string { return `deployment "` + name + `" successfully rolled out` }

// TestExecutorKilledMidCommand: an executor killed with SIGKILL while a
// command runs. With a new executor the command is re-delivered and
// completes; without one it fails clearly at its deadline, and new commands
// are refused at once.
func TestExecutorKilledMidCommand(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const cluster = "crash"
	ex, _ := r.connect(t, cluster, "")
	sess := r.user.createSession(t, cluster)
	ns := namespace(t, "e2e-crash")
	stuck(t, ns, "slow")
	stuck(t, ns, "slower")

	// 1. Re-delivered to the restarted executor, then completed.
	start := time.Now()
	id := r.user.submit(t, cluster, sess, 120, "rollout", "status", "deployment/slow", "-n", ns)
	r.user.waitResult(t, id, time.Minute, isRunning)
	ex.kill()
	ex = ex.restart(t, "")
	waitLogCount(t, ex.logPath, `msg="command received" id=`+id+" delivery=2", 1, time.Minute)
	complete(t, ns, "slow")
	res := r.user.waitResult(t, id, time.Minute, isFinal)
	if res.Status != api.StatusCompleted || !strings.Contains(res.Output, rolledOut("slow")) {
		t.Fatalf("re-delivered command: %+v (error %s)", res, deref(res.Error))
	}
	if took := time.Since(start); took > 120*time.Second {
		t.Errorf("the re-delivered command finished after its deadline (%s)", took)
	}

	// 2. Killed and not restarted: the waiting request ends at the deadline
	// with a clear failure.
	type answer struct {
		res execResult
		err error
	}
	done := make(chan answer, 1)
	ctx := ctxFor(t, 2*time.Minute)
	received := strings.Count(readLog(ex.logPath), `msg="command received"`) // both processes log here
	go func() {
		res, err := r.user.run(ctx, cluster, sess, 10, "rollout", "status", "deployment/slower", "-n", ns)
		done <- answer{res, err}
	}()
	waitLogCount(t, ex.logPath, `msg="command received"`, received+1, time.Minute)
	time.Sleep(500 * time.Millisecond) // running in the executor now
	ex.kill()
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	got := a.res
	if got.status != http.StatusOK || got.res.Status != api.StatusFailed || !strings.Contains(deref(got.res.Error), "disconnected while running the command") {
		t.Fatalf("command whose executor died: %s", got)
	}
	r.admin.waitStreams(t, cluster, 0, 10*time.Second)
	start = time.Now()
	if got := r.user.execute(t, cluster, sess, 30, "version"); got.status != http.StatusServiceUnavailable || got.err.Code != api.CodeServiceUnavailable {
		t.Fatalf("command with no executor: %s, want 503 at once", got)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("503 without an executor took %s", took)
	}
}

// TestAPIRestart: the API restarted (crash, then graceful) while the executor
// runs. The executor reconnects by itself, a result finished while the API
// was down is delivered, and sessions and tokens survive.
func TestAPIRestart(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const cluster = "restart"
	ex, _ := r.connect(t, cluster, "")
	sess := r.user.createSession(t, cluster)
	r.mustWork(t, cluster, sess)
	ns := namespace(t, "e2e-restart")
	stuck(t, ns, "rollout")

	// Crash the API while a command runs; the command finishes meanwhile.
	id := r.user.submit(t, cluster, sess, 120, "rollout", "status", "deployment/rollout", "-n", ns)
	r.user.waitResult(t, id, time.Minute, isRunning)
	if err := r.api.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	complete(t, ns, "rollout")
	waitLogCount(t, ex.logPath, "result not delivered; retrying", 1, time.Minute)
	waitLogCount(t, ex.logPath, "executor stream ended; reconnecting", 2, time.Minute)
	if err := r.api.start(); err != nil {
		t.Fatal(err)
	}
	r.admin.waitStreams(t, cluster, 1, time.Minute)
	res := r.user.waitResult(t, id, time.Minute, isFinal)
	if res.Status != api.StatusCompleted || !strings.Contains(res.Output, rolledOut("rollout")) {
		t.Fatalf("command finished while the API was down: %+v (error %s)", res, deref(res.Error))
	}
	r.mustWork(t, cluster, sess) // the same session and executor token, after a crash

	// A graceful restart.
	if err := r.api.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.api.proc().exitCode(); code != 0 {
		t.Errorf("kubently-api exited %d after SIGTERM", code)
	}
	if err := r.api.start(); err != nil {
		t.Fatal(err)
	}
	r.admin.waitStreams(t, cluster, 1, time.Minute)
	r.mustWork(t, cluster, sess)
	if ex.exited() {
		t.Fatal("the executor exited instead of reconnecting")
	}
}

var retryIn = regexp.MustCompile(`the API refused the executor token \(401\)" in=([0-9.]+m?s)`)

// TestRevokedToken: revoking the cluster's token cuts its stream at once;
// the executor keeps trying with the slow 401 backoff without crashing, and
// works again when restarted with a new token.
func TestRevokedToken(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const cluster = "revoked"
	ex, _ := r.connect(t, cluster, "")
	sess := r.user.createSession(t, cluster)
	r.mustWork(t, cluster, sess)

	r.admin.revoke(t, cluster)
	r.admin.waitStreams(t, cluster, 0, 10*time.Second)
	start := time.Now()
	if got := r.user.execute(t, cluster, sess, 30, "version"); got.status != http.StatusServiceUnavailable || got.err.Code != api.CodeServiceUnavailable {
		t.Fatalf("command after the revocation: %s, want 503", got)
	} else if took := time.Since(start); took > 5*time.Second {
		t.Errorf("503 without an executor took %s", took)
	}

	waitLogCount(t, ex.logPath, "(401)", 2, time.Minute)
	for _, m := range retryIn.FindAllStringSubmatch(readLog(ex.logPath), -1) {
		d, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatal(err)
		}
		if d < 10*time.Second {
			t.Errorf("retry %s after a 401, want at least 10s", d)
		}
	}
	if ex.exited() {
		t.Fatal("the executor exited on a revoked token")
	}

	token := r.admin.register(t, cluster)
	if !ex.signal(syscall.SIGTERM, 30*time.Second) {
		t.Fatal("the executor did not stop on SIGTERM")
	}
	if code := ex.exitCode(); code != 0 {
		t.Errorf("executor exit code %d after SIGTERM", code)
	}
	ex = ex.restart(t, token)
	r.admin.waitStreams(t, cluster, 1, time.Minute)
	r.mustWork(t, cluster, sess)
}

// TestKeepaliveLoss: the connection between executor and API goes silent
// without closing (a middlebox dropped it). The executor notices after
// EXECUTOR_IDLE_TIMEOUT (20s), reconnects, and a command sent into the dead
// stream meanwhile is re-delivered and completes within its deadline.
func TestKeepaliveLoss(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const cluster = "silent"
	proxy := testkit.StartProxy(t, r.api.addr)
	ex, _ := r.connect(t, cluster, proxy.URL())
	sess := r.user.createSession(t, cluster)
	r.mustWork(t, cluster, sess) // also leaves a pooled result connection behind the proxy

	if n := proxy.Blackhole(); n == 0 {
		t.Fatal("no connection through the proxy")
	}
	res := r.user.execute(t, cluster, sess, 60, "get", "pods", "-n", fx.ns, "-o", "name")
	if res.status != http.StatusOK || res.res.Status != api.StatusCompleted || !strings.Contains(res.res.Output, "pod/"+fx.shopPods[0]) {
		t.Fatalf("command sent into the silent connection: %s", res)
	}
	waitLogCount(t, ex.logPath, "no event for 20s: connection presumed dead", 1, 5*time.Second)
	if cl := r.admin.clusterStatus(t, cluster); cl.Status != api.ClusterConnected {
		t.Fatalf("cluster after the reconnect: %+v", cl)
	}
	r.mustWork(t, cluster, sess)
	t.Logf("command sent into the dead stream completed after %s", res.elapsed.Round(time.Millisecond))
}

// TestExecutorSIGTERM: an executor stopped with SIGTERM lets an in-flight
// command that finishes within its grace period complete, reports one that
// does not as failed, and exits 0; nothing waits for the commands' deadlines.
func TestExecutorSIGTERM(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const cluster = "drain"
	ex, _ := r.connect(t, cluster, "")
	sess := r.user.createSession(t, cluster)
	ns := namespace(t, "e2e-drain")
	stuck(t, ns, "finishes")
	stuck(t, ns, "never")

	finishes := r.user.submit(t, cluster, sess, 120, "rollout", "status", "deployment/finishes", "-n", ns)
	never := r.user.submit(t, cluster, sess, 120, "rollout", "status", "deployment/never", "-n", ns)
	r.user.waitResult(t, finishes, time.Minute, isRunning)
	r.user.waitResult(t, never, time.Minute, isRunning)
	start := time.Now()
	if err := syscall.Kill(ex.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	complete(t, ns, "finishes")
	select {
	case <-ex.done:
	case <-time.After(40 * time.Second):
		t.Fatal("the executor did not exit within 40s of SIGTERM")
	}
	if code := ex.exitCode(); code != 0 {
		t.Errorf("executor exit code %d after SIGTERM", code)
	}
	took := time.Since(start)
	if res := r.user.result(t, finishes); res.Status != api.StatusCompleted || !strings.Contains(res.Output, rolledOut("finishes")) {
		t.Errorf("command finishing during the grace period: %+v (error %s)", res, deref(res.Error))
	}
	res := r.user.waitResult(t, never, 10*time.Second, isFinal)
	if res.Status != api.StatusFailed || !strings.Contains(deref(res.Error), "shut down before the command finished") {
		t.Errorf("command cut at shutdown: %+v (error %s)", res, deref(res.Error))
	}
	if took > 30*time.Second {
		t.Errorf("shutdown took %s", took)
	}
}

// TestCommandDeadline: a command still running at its deadline ends as
// timeout, and the waiting request answers right after the deadline.
func TestCommandDeadline(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const cluster = "deadline"
	r.connect(t, cluster, "")
	sess := r.user.createSession(t, cluster)
	ns := namespace(t, "e2e-deadline")
	stuck(t, ns, "waits")

	got := r.user.execute(t, cluster, sess, 3, "rollout", "status", "deployment/waits", "-n", ns)
	if got.status != http.StatusOK || got.res.Status != api.StatusTimeout || deref(got.res.Error) == "" || got.res.ExitCode != nil {
		t.Fatalf("command past its deadline: %s", got)
	}
	if got.elapsed < 3*time.Second {
		t.Errorf("timeout reported after %s, before the 3s deadline", got.elapsed)
	}
	t.Logf("answered after %s: %s", got.elapsed.Round(time.Millisecond), deref(got.res.Error))
	r.mustWork(t, cluster, sess) // the worker slot was freed
}
