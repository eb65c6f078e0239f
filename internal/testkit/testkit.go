// Package testkit holds small helpers that several packages' tests share:
// a goroutine-safe log buffer, and a TCP proxy that can cut connections or
// turn them into open-but-silent "blackholes" — what a NAT or load balancer
// that lost its state does to long-lived streams.
package testkit

import (
	"bytes"
	"net"
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
