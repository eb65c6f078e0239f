package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubently/kubently/internal/k8stest"
	"github.com/kubently/kubently/internal/testkit"
)

// What TestMain sets up for every test.
var (
	cp           *k8stest.ControlPlane
	saKubeconfig string // the executor's read-only ServiceAccount
	bins         struct{ api, executor string }
	stack        *sharedStack
	fx           *fixture
)

// Clusters of the shared stack.
const (
	// mainCluster's executor runs in readOnly mode with no extra rules.
	mainCluster = "e2e"
	// restrictedCluster's executor adds deny rules (restrictedConfig) and
	// has "kubently" as its default namespace.
	restrictedCluster = "restricted"
)

// restrictedConfig is the configuration file of restrictedCluster's executor:
// refusals that only the executor knows about, since the API's pre-check sees
// a readOnly executor.
const restrictedConfig = `deny:
- verbs: [get]
  resources: [configmaps]
- verbs: [logs]
- resources: [events]
  namespaces: [kubently]
`

// sharedStack is one API process with the executors of mainCluster and
// restrictedCluster, used by the golden and refusal tests (which never
// restart anything).
type sharedStack struct {
	api        *apiProc
	admin      *client
	user       *client
	main       *execProc
	restricted *execProc
}

func TestMain(m *testing.M) {
	if _, err := k8stest.BinDir(); err != nil {
		os.Exit(k8stest.RunMain(m, nil)) // skips, or fails with K8S_TEST_REQUIRED=1
	}
	work, err := os.MkdirTemp("", "kubently-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	code := run(m, work)
	if code == 0 {
		_ = os.RemoveAll(work)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: logs of the shared processes are kept in %s\n", work)
	}
	os.Exit(code)
}

func run(m *testing.M, work string) int {
	start := time.Now()
	if err := buildBinaries(work); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: build the binaries:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: built kubently-api and kubently-executor with -race in %s\n", time.Since(start).Round(time.Second))
	code := k8stest.RunMain(m, func(c *k8stest.ControlPlane) error {
		cp = c
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var err error
		if saKubeconfig, _, err = c.ReadOnlyServiceAccount(ctx); err != nil {
			return err
		}
		if fx, err = createFixture(ctx, "e2e-golden"); err != nil {
			return fmt.Errorf("fixture: %w", err)
		}
		stack, err = startShared(ctx, work)
		return err
	})
	if stack != nil {
		for _, p := range []*proc{stack.main.proc, stack.restricted.proc, stack.api.proc()} {
			p.kill()
			if r := raceReports(p.logPath); r != "" {
				fmt.Fprintf(os.Stderr, "FAIL: %s reported a data race:\n%s\n", p.name, r)
				code = 1
			}
			if code != 0 {
				fmt.Fprintf(os.Stderr, "--- end of %s log (%s) ---\n%s\n", p.name, p.logPath, logTail(p.logPath, 8<<10))
			}
		}
	}
	return code
}

// buildBinaries builds both binaries once, with the race detector, into dir.
func buildBinaries(dir string) error {
	root, err := testkit.ModuleRoot()
	if err != nil {
		return err
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go tool is needed to build the binaries: %w", err)
	}
	cmd := exec.Command(gobin, "build", "-race", "-o", dir+string(filepath.Separator), "./cmd/kubently-api", "./cmd/kubently-executor")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	bins.api, bins.executor = filepath.Join(dir, "kubently-api"), filepath.Join(dir, "kubently-executor")
	return nil
}

// startShared starts the shared API and the two executors and waits until
// both clusters are connected.
func startShared(ctx context.Context, work string) (*sharedStack, error) {
	a, err := newAPIProc(filepath.Join(work, "data"), filepath.Join(work, "api.log"))
	if err != nil {
		return nil, err
	}
	s := &sharedStack{api: a, admin: newClient(a.url(), adminKey), user: newClient(a.url(), userKey)}
	ok := false
	defer func() {
		if !ok {
			for _, p := range []*execProc{s.main, s.restricted} {
				if p != nil {
					p.kill()
				}
			}
			a.proc().kill()
		}
	}()
	tokens := map[string]string{}
	for _, cluster := range []string{mainCluster, restrictedCluster} {
		var tok struct {
			Token string `json:"token"`
		}
		code, raw, err := s.admin.call(ctx, "POST", "/admin/agents/"+cluster+"/token", nil, &tok)
		if err != nil || code != 201 {
			return nil, fmt.Errorf("register %s: %d %s %v", cluster, code, raw, err)
		}
		tokens[cluster] = tok.Token
	}
	if s.main, err = newExecProc(executorOpts{apiURL: a.url(), cluster: mainCluster, token: tokens[mainCluster]}, filepath.Join(work, "executor-main.log")); err != nil {
		return nil, err
	}
	// The restricted executor's kubeconfig has "kubently" as its namespace,
	// as an in-cluster executor would.
	nsKubeconfig := filepath.Join(work, "executor-kubently-ns.kubeconfig")
	if err := kubeconfigWithNamespace(saKubeconfig, nsKubeconfig, k8stest.ExecutorNamespace); err != nil {
		return nil, err
	}
	if s.restricted, err = newExecProc(executorOpts{apiURL: a.url(), cluster: restrictedCluster, token: tokens[restrictedCluster],
		kubeconfig: nsKubeconfig, configYAML: restrictedConfig}, filepath.Join(work, "executor-restricted.log")); err != nil {
		return nil, err
	}
	for _, cluster := range []string{mainCluster, restrictedCluster} {
		end := time.Now().Add(2 * time.Minute)
		for {
			var cl struct {
				Executors int `json:"executors"`
			}
			code, _, err := s.admin.call(ctx, "GET", "/clusters/"+cluster+"/status", nil, &cl)
			if err == nil && code == 200 && cl.Executors == 1 {
				break
			}
			if time.Now().After(end) || s.main.exited() || s.restricted.exited() {
				return nil, fmt.Errorf("executor of %s did not connect:\n%s\n%s", cluster, logTail(s.main.logPath, 4096), logTail(s.restricted.logPath, 4096))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ok = true
	return s, nil
}

// kubeconfigWithNamespace copies a kubeconfig with its current context's
// namespace set to ns.
func kubeconfigWithNamespace(src, dst, ns string) error {
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return err
	}
	cfg.Contexts[cfg.CurrentContext].Namespace = ns
	return clientcmd.WriteToFile(*cfg, dst)
}

// theStack returns the shared stack started by TestMain.
func theStack(t *testing.T) *sharedStack {
	t.Helper()
	if stack == nil {
		t.Fatal("the shared stack is not running")
	}
	return stack
}

// ensureNamespace creates a namespace for a test's objects.
func ensureNamespace(ctx context.Context, name string) error {
	_, err := cp.AdminClient().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// join renders an argv for messages.
func join(argv []string) string { return strings.Join(argv, " ") }
