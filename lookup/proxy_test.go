package lookup

import (
	"io"
	"net"
	"sync"
	"testing"
)

// proxy forwards TCP connections to a target until told to fail, so a test can take a
// store away from a Service that connected to it successfully: down refuses and drops
// connections, stall holds them open and answers nothing.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  string // "", "down" or "stall"
	conns []net.Conn
	wg    sync.WaitGroup
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		switch mode {
		case "down":
			_ = c.Close()
		case "stall":
			// Held open and unread until the proxy closes.
		default:
			p.wg.Add(1)
			go p.pipe(c)
		}
	}
}

func (p *proxy) pipe(c net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	forward := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go forward(up, c)
	go forward(c, up)
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
}

// fail switches the proxy to mode and cuts every open connection, so pooled connections
// fail too and new ones meet the new mode.
func (p *proxy) fail(mode string) {
	p.mu.Lock()
	p.mode = mode
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.fail("down")
	p.wg.Wait()
}
