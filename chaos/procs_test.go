package chaos

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one child process that can be started again after it was stopped or killed,
// with the same arguments and environment. Its output goes to <dir>/<name>.log.
type proc struct {
	name string
	dir  string
	bin  string
	args []string
	env  []string

	cmd  *exec.Cmd
	done chan struct{}
}

// start runs the process; it fails the test if the binary cannot be started.
func (p *proc) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(p.dir, p.name+".log"),
		os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "---- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.dir
	cmd.Env = append(cleanEnviron(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

// running reports whether the process has been started and has not exited.
func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would, and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL, 10*time.Second)
}

// stop asks the process to shut down with SIGTERM and waits up to grace; past it the
// process is killed.
func (p *proc) stop(t *testing.T, grace time.Duration) {
	t.Helper()
	if !p.signal(t, syscall.SIGTERM, grace) {
		t.Logf("%s did not stop within %s; killing it", p.name, grace)
		p.kill(t)
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal, wait time.Duration) bool {
	t.Helper()
	if !p.running() {
		return true
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return true
	case <-time.After(wait):
		return false
	}
}

// cleanEnviron is this process's environment without any SCRIPTSYNC_ variable, so only
// what the suite sets configures the children.
func cleanEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCRIPTSYNC_") {
			out = append(out, kv)
		}
	}
	return out
}

// freeAddr returns a loopback address with a port nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// waitFor polls cond every 100ms until it holds or the timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitHTTP waits until url answers 200.
func waitHTTP(t *testing.T, p *proc, url string, timeout time.Duration) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	ok := waitFor(context.Background(), timeout, func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ok {
		t.Fatalf("%s not ready at %s within %s (log in %s)", p.name, url, timeout,
			filepath.Join(p.dir, p.name+".log"))
	}
}

// waitTCP waits until addr accepts connections.
func waitTCP(t *testing.T, p *proc, addr string, timeout time.Duration) {
	t.Helper()
	ok := waitFor(context.Background(), timeout, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
	if !ok {
		t.Fatalf("%s not listening on %s within %s", p.name, addr, timeout)
	}
}

// buildBinaries returns the directory holding scriptsync and nats-server:
// SCRIPTSYNC_CHAOS_BIN when set (make chaos builds them into bin/), else a fresh build.
func buildBinaries(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("SCRIPTSYNC_CHAOS_BIN"); dir != "" {
		for _, name := range []string{"scriptsync", "nats-server"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Fatalf("SCRIPTSYNC_CHAOS_BIN: %v (run make build)", err)
			}
		}
		return dir
	}
	dir := t.TempDir()
	for name, pkg := range map[string]string{
		"scriptsync":  "github.com/scriptsync/scriptsync/cmd/scriptsync",
		"nats-server": "github.com/nats-io/nats-server/v2",
	} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).
			CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	return dir
}
