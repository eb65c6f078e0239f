package k8stest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is one child process (etcd or kube-apiserver) with its output captured in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited and been reaped
	waitErr error         // valid after done is closed
}

// startProcess starts bin in its own process group with output to logPath.
func startProcess(name, bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = childEnv()
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// childEnv is the test binary's environment without ETCD_* variables, which etcd would read as
// flags.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	return env
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the process group with SIGKILL and waits until the process is reaped. A test
// control plane has no state worth a graceful shutdown.
func (p *process) stop() {
	if p == nil || p.exited() {
		return
	}
	// The child leads its own process group (Setpgid), so -pid addresses the whole group.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		// Only possible if the process is stuck in the kernel; report instead of hanging.
		fmt.Fprintf(os.Stderr, "k8stest: %s (pid %d) did not exit after SIGKILL\n", p.name, p.cmd.Process.Pid)
	}
}

// logTail returns the last few KiB of the process output, for error messages.
func (p *process) logTail() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 4096
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// waitReady polls check until it succeeds, the process exits or ctx ends.
func (p *process) waitReady(ctx context.Context, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return &startError{proc: p.name, cause: fmt.Errorf("exited: %v", p.waitErr), log: p.logTail()}
		case <-ctx.Done():
			return &startError{proc: p.name, cause: fmt.Errorf("not ready: %w (last check: %v)", ctx.Err(), last), log: p.logTail()}
		case <-tick.C:
		}
	}
}

// startError explains why a child process did not become ready, with the end of its output.
type startError struct {
	proc  string
	cause error
	log   string
}

func (e *startError) Error() string {
	return fmt.Sprintf("k8stest: %s %v\n--- end of %s output ---\n%s", e.proc, e.cause, e.proc, e.log)
}

func (e *startError) Unwrap() error { return e.cause }

// portConflict reports whether err is a startup failure caused by a port taken between
// freePort and the child's bind, which a retry with new ports fixes.
func portConflict(err error) bool {
	var se *startError
	return errors.As(err, &se) && strings.Contains(se.log, "address already in use")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
