package httpserve_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/internal/httpserve"
)

// blocking answers 200 "done" once release is closed, and says on started when a request
// has arrived.
func blocking(started chan<- struct{}, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		started <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "done")
	})
}

func serve(t *testing.T, h http.Handler, grace time.Duration) (*httpserve.Server,
	context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := httpserve.Listen(ctx, "test", "127.0.0.1:0", h, httpserve.DefaultTimeouts,
		grace, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	return srv, cancel, done
}

type answer struct {
	body string
	err  error
}

func get(url string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- answer{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		out <- answer{body: string(b), err: err}
	}()
	return out
}

// On shutdown the server stops accepting at once, lets the request in flight finish
// within the grace period, and returns without an error.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	srv, cancel, done := serve(t, blocking(started, release), 10*time.Second)
	inFlight := get("http://" + srv.Addr() + "/")
	<-started

	cancel()
	// The listener closes as shutdown begins; new connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", srv.Addr(), time.Second)
		if err != nil {
			break
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with a request still in flight", err)
	default:
	}

	close(release)
	if a := <-inFlight; a.err != nil || a.body != "done" {
		t.Fatalf("request in flight during shutdown: %q, %v", a.body, a.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// Past the grace period the connections still open are closed and Run returns.
func TestShutdownClosesWhatOutlastsTheGrace(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	srv, cancel, done := serve(t, blocking(started, release), 200*time.Millisecond)
	inFlight := get("http://" + srv.Addr() + "/")
	<-started

	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its grace period")
	}
	if a := <-inFlight; a.err == nil {
		t.Fatalf("the request that outlasted the grace period was answered: %q", a.body)
	}
}
