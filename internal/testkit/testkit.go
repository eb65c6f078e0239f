// Package testkit holds small helpers that several packages' tests share:
// a goroutine-safe log buffer, a TCP proxy that can cut connections or turn
// them into open-but-silent "blackholes" — what a NAT or load balancer that
// lost its state does to long-lived streams — and the lookup of the pinned
// npm test clients.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// SyncBuffer is a goroutine-safe io.Writer, for capturing logs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Proxy forwards loopback TCP connections to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	live     []*proxyConn
	silenced []*proxyConn
	closed   bool
}

type proxyConn struct {
	client, server net.Conn
	silent         chan struct{}
	once           sync.Once
}

// StartProxy listens on a free loopback port and forwards to target until t
// ends. A connection whose target refuses is closed, as the target would.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// URL is the proxy's http:// address.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: s, silent: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.live = append(p.live, pc)
		p.mu.Unlock()
		go pc.forward(s, c)
		go pc.forward(c, s)
	}
}

// forward copies src to dst. Once silenced it neither reads nor writes: the
// bytes stay in kernel buffers and both peers see an open, mute connection.
func (pc *proxyConn) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-pc.silent:
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			select {
			case <-pc.silent:
			default:
				pc.client.Close()
				pc.server.Close()
			}
			return
		}
	}
}

// Blackhole silences every connection open now, keeping them open, and
// returns how many; later connections are forwarded normally.
func (p *Proxy) Blackhole() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.live {
		pc.once.Do(func() { close(pc.silent) })
	}
	n := len(p.live)
	p.silenced = append(p.silenced, p.live...)
	p.live = nil
	return n
}

// Cut closes every connection open now and returns how many.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	live := p.live
	p.live = nil
	p.mu.Unlock()
	for _, pc := range live {
		pc.client.Close()
		pc.server.Close()
	}
	return len(live)
}

// Close stops the proxy and closes every connection, silenced ones too.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	all := append(p.live, p.silenced...)
	p.live, p.silenced = nil, nil
	p.mu.Unlock()
	p.ln.Close()
	for _, pc := range all {
		pc.client.Close()
		pc.server.Close()
	}
}

// NPMDir returns the directory of the pinned npm test clients (test/npm) and
// the node binary, after checking that node and the package pkg are
// installed. Otherwise the test is skipped — or fails under
// NPM_TEST_REQUIRED=1, as `make test` sets it.
func NPMDir(t testing.TB, pkg string) (dir, node string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("NPM_TEST_REQUIRED") == "1" {
			t.Fatalf(format+" (NPM_TEST_REQUIRED=1)", args...)
		}
		t.Skipf(format+"; run hack/test-deps.sh or `npm ci` in test/npm", args...)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(root, "test", "npm")
	node, err = exec.LookPath("node")
	if err != nil {
		missing("node is not installed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
		missing("the npm package %s is not installed in test/npm", pkg)
	}
	return dir, node
}

// ModuleRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// NewRequest builds a request to url for tests of the API: body may be nil,
// a string or []byte (sent as is) or any value (sent as JSON, with its
// Content-Type); key, when not empty, goes in X-API-Key; headers are
// name/value pairs.
func NewRequest(t testing.TB, ctx context.Context, method, url, key string, body any, headers ...string) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}
