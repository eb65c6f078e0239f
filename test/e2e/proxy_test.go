package e2e

import (
	"net"
	"sync"
	"testing"
)

// tcpProxy forwards loopback TCP connections to a target address. blackhole
// turns the connections open at that moment silent in both directions while
// keeping them open, like a NAT or load balancer that lost their state
// without telling either side; connections made later are forwarded normally.
type tcpProxy struct {
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

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close() // the target is down: refuse like it would
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

// blackhole silences every connection open now and returns how many.
func (p *tcpProxy) blackhole() int {
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

func (p *tcpProxy) close() {
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
