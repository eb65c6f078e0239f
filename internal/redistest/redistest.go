// Package redistest starts real redis-server processes for tests, each on a
// free loopback port, stopped by the PID it holds — optionally with a
// password, TLS (certificates generated here) or persistence so that a
// restart keeps the data. With REDIS_TEST_REQUIRED=1 (set by `make test`) a
// missing redis-server fails the test instead of skipping it.
package redistest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kubently/kubently/internal/testpki"
)

// Options shape a server.
type Options struct {
	// Persistent keeps data in an append-only file, so Restart keeps it.
	Persistent bool
	// Password is required from clients (requirepass) when set.
	Password string
	// TLS serves TLS only; the CA that signed the server certificate is in
	// Server.CAFile.
	TLS bool
}

// Server is one redis-server process.
type Server struct {
	Port   int
	CAFile string // with Options.TLS: the CA bundle clients must trust
	opts   Options
	bin    string
	cmd    *exec.Cmd
	dir    string
}

// URL is the server's address: redis:// (or rediss:// with TLS), without
// the password.
func (s *Server) URL() string {
	scheme := "redis"
	if s.opts.TLS {
		scheme = "rediss"
	}
	return scheme + "://127.0.0.1:" + strconv.Itoa(s.Port) + "/0"
}

var errMissing = errors.New("redis-server not installed (apt-get install redis-server)")

func lookup() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REDIS_TEST_REQUIRED") == "1" {
			return "", fmt.Errorf("redis-server not found and REDIS_TEST_REQUIRED=1: %w", err)
		}
		return "", errMissing
	}
	return bin, nil
}

// Start starts a plain server for t and stops it when t ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartPersistent starts a server whose data survives Restart.
func StartPersistent(t testing.TB) *Server { return StartWith(t, Options{Persistent: true}) }

// StartWith starts a server with opts for t and stops it when t ends; it
// skips (or fails, under REDIS_TEST_REQUIRED=1) when redis-server is missing.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := lookup()
	if errors.Is(err, errMissing) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(bin, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartShared starts a plain server for a whole test binary (from
// TestMain); the caller stops it. ok is false when redis-server is missing
// and not required.
func StartShared() (s *Server, ok bool, err error) {
	bin, err := lookup()
	if errors.Is(err, errMissing) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, false, err
	}
	s, err = newServer(bin, dir, Options{})
	return s, err == nil, err
}

func newServer(bin, dir string, opts Options) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Port: port, opts: opts, bin: bin, dir: dir}
	if opts.TLS {
		if err := s.writeCerts(); err != nil {
			return nil, err
		}
	}
	return s, s.start()
}

func (s *Server) args() []string {
	port := strconv.Itoa(s.Port)
	args := []string{"--bind", "127.0.0.1", "--save", "", "--daemonize", "no", "--dir", s.dir, "--loglevel", "warning"}
	if s.opts.Persistent {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.opts.Password != "" {
		args = append(args, "--requirepass", s.opts.Password)
	}
	if s.opts.TLS {
		args = append(args, "--port", "0", "--tls-port", port,
			"--tls-cert-file", filepath.Join(s.dir, "server.crt"), "--tls-key-file", filepath.Join(s.dir, "server.key"),
			"--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", port)
	}
	return args
}

func (s *Server) start() error {
	s.cmd = exec.Command(s.bin, s.args()...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redis-server on port %d did not start", s.Port)
}

// Stop kills the server.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart stops the server and starts it again on the same port (with the
// same data when it is persistent).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// writeCerts creates a CA and a server certificate for 127.0.0.1.
func (s *Server) writeCerts() error {
	ca, err := testpki.NewCA("redistest CA")
	if err != nil {
		return err
	}
	srv, err := ca.IssueServing("127.0.0.1", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		return err
	}
	s.CAFile = filepath.Join(s.dir, "ca.crt")
	files := map[string][]byte{
		s.CAFile:                           ca.CertPEM,
		filepath.Join(s.dir, "server.crt"): srv.CertPEM,
		filepath.Join(s.dir, "server.key"): srv.KeyPEM,
	}
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
