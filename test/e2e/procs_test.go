package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one child process (kubently-api or kubently-executor) with its
// stdout and stderr appended to a log file. It is stopped by its PID only.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // valid after done
}

// startProc starts bin with exactly env (nothing inherited but what the
// caller passes) and appends its output to logPath.
func startProc(name, bin string, env []string, logPath string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "=== %s started at %s\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		fmt.Fprintf(f, "=== %s (pid %d) exited at %s: %v\n", name, cmd.Process.Pid, time.Now().Format(time.RFC3339Nano), p.waitErr)
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process and waits up to within for it to exit.
// It reports whether the process exited.
func (p *proc) signal(sig syscall.Signal, within time.Duration) bool {
	if p.exited() {
		return true
	}
	_ = syscall.Kill(p.pid(), sig)
	select {
	case <-p.done:
		return true
	case <-time.After(within):
		return false
	}
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	if !p.signal(syscall.SIGKILL, 30*time.Second) {
		fmt.Fprintf(os.Stderr, "e2e: %s (pid %d) did not exit after SIGKILL\n", p.name, p.pid())
	}
}

// exitCode is the exit status once exited (-1 when killed by a signal).
func (p *proc) exitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// readLog returns the whole log file.
func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// logTail returns the end of a log file, for failure messages.
func logTail(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// raceReports returns the data race reports the race detector wrote into a
// log (the binaries are built with -race).
func raceReports(path string) string {
	log := readLog(path)
	i := strings.Index(log, "WARNING: DATA RACE")
	if i < 0 {
		return ""
	}
	if len(log)-i > 20000 {
		return log[i : i+20000]
	}
	return log[i:]
}

// track makes t responsible for p: killed when t ends, its log shown when t
// failed, and any data race it reported fails t.
func track(t *testing.T, p *proc) {
	t.Cleanup(func() {
		p.kill()
		if r := raceReports(p.logPath); r != "" {
			t.Errorf("%s reported a data race:\n%s", p.name, r)
		}
		if t.Failed() {
			t.Logf("--- end of %s log (%s) ---\n%s", p.name, p.logPath, logTail(p.logPath, 12<<10))
		}
	})
}

// baseEnv is the minimal environment every child gets.
func baseEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_FORMAT=text"}
	if v := os.Getenv("TMPDIR"); v != "" {
		env = append(env, "TMPDIR="+v)
	}
	return env
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Keys of the API principals every API process is started with.
const (
	adminKey = "e2e-admin-key-0123456789abcdef"
	userKey  = "e2e-alice-key-0123456789abcdef"
)

// apiProc is a kubently-api process on the embedded store. Restarts keep its
// address and data directory.
type apiProc struct {
	addr    string
	dataDir string
	logPath string
	env     []string

	mu sync.Mutex
	p  *proc
}

// newAPIProc starts kubently-api on a free port with its data in dataDir and
// waits until it is ready. extraEnv adds or overrides settings.
func newAPIProc(dataDir, logPath string, extraEnv ...string) (*apiProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	a := &apiProc{addr: addr, dataDir: dataDir, logPath: logPath}
	a.env = append(baseEnv(),
		"KUBENTLY_LISTEN="+addr,
		"KUBENTLY_DATA_DIR="+dataDir,
		"API_KEYS=admin:"+adminKey+":admin,alice:"+userKey,
		"RATE_LIMIT_EXECUTE=100000", "RATE_LIMIT_STANDARD=100000", "RATE_LIMIT_SESSION=100000",
		"LOG_LEVEL=debug",
	)
	a.env = append(a.env, extraEnv...)
	return a, a.start()
}

// startAPI is newAPIProc for one test: stopped when t ends.
func startAPI(t *testing.T, extraEnv ...string) *apiProc {
	t.Helper()
	dir := t.TempDir()
	a, err := newAPIProc(filepath.Join(dir, "data"), filepath.Join(dir, "api.log"), extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.proc().kill()
		if r := raceReports(a.logPath); r != "" {
			t.Errorf("kubently-api reported a data race:\n%s", r)
		}
		if t.Failed() {
			t.Logf("--- end of kubently-api log (%s) ---\n%s", a.logPath, logTail(a.logPath, 12<<10))
		}
	})
	return a
}

func (a *apiProc) url() string { return "http://" + a.addr }

func (a *apiProc) proc() *proc {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.p
}

// start starts the process (again) on the same address and data directory
// and waits until /readyz answers 200.
func (a *apiProc) start() error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		p, err := startProc("kubently-api", bins.api, a.env, a.logPath)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.p = p
		a.mu.Unlock()
		if lastErr = waitReady(p, a.url()+"/readyz", time.Minute); lastErr == nil {
			return nil
		}
		p.kill()
		if !strings.Contains(logTail(a.logPath, 4096), "address already in use") {
			break
		}
		time.Sleep(500 * time.Millisecond) // the old socket is still closing
	}
	return fmt.Errorf("kubently-api did not become ready: %w\n%s", lastErr, logTail(a.logPath, 4096))
}

// stop ends the process with sig (SIGTERM: graceful; SIGKILL: a crash).
func (a *apiProc) stop(sig syscall.Signal) error {
	p := a.proc()
	if !p.signal(sig, 40*time.Second) {
		p.kill()
		return fmt.Errorf("kubently-api did not exit within 40s of %v", sig)
	}
	return nil
}

// waitReady polls url until it answers 200, the process exits or the time is up.
func waitReady(p *proc, url string, within time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	end := time.Now().Add(within)
	for {
		res, err := c.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, res.Status)
		}
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.waitErr)
		}
		if time.Now().After(end) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// executorOpts configures a kubently-executor process.
type executorOpts struct {
	apiURL  string
	cluster string
	token   string
	// kubeconfig defaults to the read-only ServiceAccount's.
	kubeconfig string
	// configYAML, when set, is written to a file passed as the executor's
	// configuration file (allow/deny rules live there).
	configYAML string
	extraEnv   []string
}

// execProc is a kubently-executor process.
type execProc struct {
	*proc
	opts executorOpts
}

// newExecProc starts an executor with its log in logPath. It does not wait
// for the connection (see client.waitConnected).
func newExecProc(opts executorOpts, logPath string) (*execProc, error) {
	if opts.kubeconfig == "" {
		opts.kubeconfig = saKubeconfig
	}
	env := append(baseEnv(),
		"KUBENTLY_API_URL="+opts.apiURL,
		"CLUSTER_ID="+opts.cluster,
		"KUBENTLY_TOKEN="+opts.token,
		"KUBECONFIG="+opts.kubeconfig,
		"SECURITY_MODE=readOnly",
		"EXECUTOR_IDLE_TIMEOUT=20s",
		"LOG_LEVEL=debug",
	)
	if opts.configYAML != "" {
		path := strings.TrimSuffix(logPath, ".log") + "-config.yaml"
		if err := os.WriteFile(path, []byte(opts.configYAML), 0o600); err != nil {
			return nil, err
		}
		env = append(env, "KUBENTLY_EXECUTOR_CONFIG="+path)
	}
	env = append(env, opts.extraEnv...)
	p, err := startProc("kubently-executor", bins.executor, env, logPath)
	if err != nil {
		return nil, err
	}
	return &execProc{proc: p, opts: opts}, nil
}

// startExecutor is newExecProc for one test: stopped when t ends.
func startExecutor(t *testing.T, opts executorOpts) *execProc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "executor-"+opts.cluster+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".log")
	e, err := newExecProc(opts, logPath)
	if err != nil {
		t.Fatal(err)
	}
	track(t, e.proc)
	return e
}

// restart starts a new executor process with the same options (and token
// unless token is not empty) and logs; the old one must have exited.
func (e *execProc) restart(t *testing.T, token string) *execProc {
	t.Helper()
	opts := e.opts
	if token != "" {
		opts.token = token
	}
	n, err := newExecProc(opts, e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	track(t, n.proc)
	return n
}

// waitLog waits until the executor's log holds n occurrences of s.
func waitLogCount(t *testing.T, path, s string, n int, within time.Duration) {
	t.Helper()
	end := time.Now().Add(within)
	for strings.Count(readLog(path), s) < n {
		if time.Now().After(end) {
			t.Fatalf("%s holds %d of %q after %s, want %d", path, strings.Count(readLog(path), s), s, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errorsAs is errors.As for tests that only need a bool.
func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

// bytesTrim trims a response body for messages.
func bytesTrim(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// ctxFor returns a context ending after d or with t.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
