package k8stest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubently/kubently/internal/k8stest"
)

// childModeEnv makes the test binary, re-executed by a test below, skip the shared control
// plane and act as a child (its value says which).
const childModeEnv = "K8STEST_CHILD_MODE"

// rerun runs this test binary again with extra environment and returns its exit code and output.
func rerun(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(testContext(t), os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, k8stest.EnvTestBins+"=") && !strings.HasPrefix(kv, k8stest.EnvRequired+"=") && !strings.HasPrefix(kv, childModeEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("rerun test binary: %v", err)
		return 0, ""
	}
}

func TestMissingBinariesSkipOrFail(t *testing.T) {
	code, out := rerun(t, []string{k8stest.EnvTestBins + "=" + t.TempDir()}, "-test.run=^TestMissingBinariesSkipOrFail$")
	if code != 0 || !strings.Contains(out, "SKIP") || !strings.Contains(out, "no executable kube-apiserver") {
		t.Fatalf("without binaries: exit %d, output %q; want exit 0 and a SKIP message", code, out)
	}
	code, out = rerun(t, []string{k8stest.EnvRequired + "=1"}, "-test.run=^TestMissingBinariesSkipOrFail$")
	if code == 0 || !strings.Contains(out, "FAIL") || !strings.Contains(out, k8stest.EnvTestBins+" is not set") {
		t.Fatalf("without binaries and %s=1: exit %d, output %q; want a failure", k8stest.EnvRequired, code, out)
	}
}

func TestStopLeavesNothingBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	second, err := k8stest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pids, dir := second.PIDs(), second.Dir()
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("pid %d not running before Stop", pid)
		}
	}
	second.Stop()
	second.Stop() // idempotent
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d still running after Stop", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s still exists after Stop (%v)", dir, err)
	}
}

// TestPanicLeavesNoOrphans runs a child test binary that starts a control plane and panics,
// then checks that etcd and kube-apiserver died with it.
func TestPanicLeavesNoOrphans(t *testing.T) {
	if os.Getenv(childModeEnv) == "panic" {
		second, err := k8stest.Start(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("PIDS %d %d %s\n", second.PIDs()[0], second.PIDs()[1], second.Dir())
		panic("k8stest: deliberate panic with a running control plane")
	}
	code, out := rerun(t, []string{childModeEnv + "=panic", k8stest.EnvTestBins + "=" + os.Getenv(k8stest.EnvTestBins)}, "-test.run=^TestPanicLeavesNoOrphans$")
	if code == 0 || !strings.Contains(out, "deliberate panic") {
		t.Fatalf("child: exit %d, output:\n%s", code, out)
	}
	var pids []int
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "PIDS" {
			for _, s := range f[1:3] {
				pid, _ := strconv.Atoi(s)
				pids = append(pids, pid)
			}
			// Stop never ran in the child: remove its temp dir (PKI, etcd data) here.
			t.Cleanup(func() { _ = os.RemoveAll(f[3]) })
		}
	}
	if len(pids) != 2 {
		t.Fatalf("child printed no PIDS line:\n%s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("pid %d outlived the panicking test binary", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// alive reports whether pid is a running process (zombies count as dead).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may contain spaces, so look after the last ')'.
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	return !bytes.HasPrefix(bytes.TrimSpace(rest), []byte("Z"))
}
