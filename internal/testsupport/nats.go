// Package testsupport starts the real parts tests run against (an embedded NATS server with
// JetStream, Redis, the Genesys simulator) and reads the shared fixtures.
package testsupport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS is an embedded NATS server with JetStream, storing to a directory that outlives
// restarts within one test.
type NATS struct {
	t        testing.TB
	storeDir string
	port     int
	server   *server.Server
}

// StartNATS starts a JetStream server on a free loopback port with a fresh store
// directory, and shuts it down when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{t: t, storeDir: t.TempDir(), port: freePort(t)}
	n.start()
	t.Cleanup(n.Shutdown)
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      n.port,
		JetStream: true,
		StoreDir:  n.storeDir,
		NoSigs:    true,
		NoLog:     true,
	})
	if err != nil {
		n.t.Fatalf("embedded nats: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		n.t.Fatalf("embedded nats not ready on port %d", n.port)
	}
	n.server = srv
}

// URL is the client URL; it stays the same across restarts.
func (n *NATS) URL() string {
	return "nats://127.0.0.1:" + strconv.Itoa(n.port)
}

// StoreDir is the JetStream store directory.
func (n *NATS) StoreDir() string {
	return n.storeDir
}

// Shutdown stops the server; it may be called more than once.
func (n *NATS) Shutdown() {
	if n.server != nil {
		n.server.Shutdown()
		n.server.WaitForShutdown()
		n.server = nil
	}
}

// Restart stops the server and starts it again on the same port and store directory.
func (n *NATS) Restart() {
	n.t.Helper()
	n.Shutdown()
	n.start()
}

// Connect opens a client connection closed at the end of the test. It reconnects for as
// long as the test runs, so it survives Restart.
func (n *NATS) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(n.URL(), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to embedded nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// StreamMessages reads every message in a stream, in order.
func StreamMessages(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("open stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted, by a replay or an operator
		}
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// Fixture returns the bytes of a file under fixtures/, such as "events/x.json".
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(FixturePath(name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return data
}

// FixturePath is the absolute path of a fixture file.
func FixturePath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "fixtures", filepath.FromSlash(name))
}

// Eventually polls cond until it holds or the deadline passes, then fails the test with
// the message. It never sleeps past the deadline.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string,
	args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, fmt.Sprintf(format, args...))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}
