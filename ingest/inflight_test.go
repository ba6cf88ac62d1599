package ingest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/ingest"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// heldPublisher holds every publish until released, to fill the in-flight slots. A real
// JetStream cannot be made to hang on cue.
type heldPublisher struct {
	entered chan struct{}
	release chan struct{}
}

var _ ingest.Publisher = (*heldPublisher)(nil)

func (p *heldPublisher) Publish(ctx context.Context, _ *event.Event, _ []byte) (
	ingest.PublishResult, error) {
	p.entered <- struct{}{}
	select {
	case <-p.release:
		return ingest.PublishResult{Sequence: 1}, nil
	case <-ctx.Done():
		return ingest.PublishResult{}, ingest.ErrUnavailable
	}
}

func TestInFlightLimitAnswers429(t *testing.T) {
	cfg := config.Default()
	cfg.Ingest.Auth.Methods = []string{config.AuthNone}
	cfg.Ingest.MaxInFlight = 1
	auth, _ := ingest.NewAuthenticator(cfg.Ingest.Auth, nil, nil)
	pub := &heldPublisher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv := httptest.NewServer(ingest.NewHandler(ingest.HandlerOptions{
		Config: cfg.Ingest, Auth: auth, Publisher: pub, Logger: zap.NewNop(),
		Metrics: ingest.NewMetrics(prometheus.NewRegistry(), "test"),
	}))
	defer srv.Close()
	body := string(testsupport.Fixture(t, "events/notification-user-start.json"))

	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/v1/events", "application/json", strings.NewReader(body))
		if err != nil {
			first <- 0
			return
		}
		_ = resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-pub.entered // the first request now holds the only slot
	resp, err := http.Post(srv.URL+"/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second request: %d, want 429 with Retry-After", resp.StatusCode)
	}
	close(pub.release)
	if got := <-first; got != http.StatusAccepted {
		t.Fatalf("first request: %d, want 202", got)
	}
}
