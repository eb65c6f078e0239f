// Package redistest starts real redis-server processes for tests, each on a
// free loopback port with persistence off, stopped by the PID it holds. With
// REDIS_TEST_REQUIRED=1 (set by `make test`) a missing redis-server fails the
// test instead of skipping it.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Server is one redis-server process.
type Server struct {
	Port       int
	cmd        *exec.Cmd
	dir        string
	persistent bool
}

// URL is the server's redis:// address.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0" }

// Start starts a server for t and stops it when t ends; it skips (or fails,
// under REDIS_TEST_REQUIRED=1) when redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REDIS_TEST_REQUIRED") == "1" {
			t.Fatalf("redis-server not found and REDIS_TEST_REQUIRED=1: %v", err)
		}
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	s := &Server{dir: t.TempDir()}
	s.Port = freePort(t)
	if err := s.start(bin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartPersistent is Start with an append-only file, so that Restart keeps
// the data, as a production Redis with persistence does.
func StartPersistent(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REDIS_TEST_REQUIRED") == "1" {
			t.Fatalf("redis-server not found and REDIS_TEST_REQUIRED=1: %v", err)
		}
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	s := &Server{dir: t.TempDir(), persistent: true}
	s.Port = freePort(t)
	if err := s.start(bin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartShared starts a server for a whole test binary (from TestMain); the
// caller stops it. ok is false when redis-server is missing and not required.
func StartShared() (s *Server, ok bool, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REDIS_TEST_REQUIRED") == "1" {
			return nil, false, fmt.Errorf("redis-server not found and REDIS_TEST_REQUIRED=1: %w", err)
		}
		return nil, false, nil
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, false, err
	}
	port, err := pickPort()
	if err != nil {
		return nil, false, err
	}
	s = &Server{dir: dir, Port: port}
	if err := s.start(bin); err != nil {
		return nil, false, err
	}
	return s, true, nil
}

func pickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePort(t testing.TB) int {
	p, err := pickPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *Server) start(bin string) error {
	aof := "no"
	if s.persistent {
		aof = "yes" // an append-only file in dir: a restart keeps the data
	}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", aof, "--appendfsync", "always", "--daemonize", "no", "--dir", s.dir, "--loglevel", "warning")
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

// Stop kills the server (data is lost: persistence is off).
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
	bin, _ := exec.LookPath("redis-server")
	if err := s.start(bin); err != nil {
		t.Fatal(err)
	}
}
