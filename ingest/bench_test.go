package ingest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/ingest"
)

// loadBody is the 1 KiB flat event the HTTP load benchmark sends.
var loadBody = []byte(`{"eventId":"load-1","eventType":"agent:script:step:entered",` +
	`"conversationId":"conv-1","participantId":"part-1","occurredAt":"2026-12-03T16:00:01.250Z",` +
	`"ani":"tel:+14155550123","pad":"` + strings.Repeat("x", 820) + `"}`)

func BenchmarkNormalize(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(loadBody)))
	for b.Loop() {
		ev, err := ingest.Normalize(loadBody, "", now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ev.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// nullPublisher confirms at once, so the benchmark measures the handler's own work.
type nullPublisher struct{}

func (nullPublisher) Publish(context.Context, *event.Event, []byte) (ingest.PublishResult, error) {
	return ingest.PublishResult{Sequence: 1}, nil
}

func BenchmarkHandler(b *testing.B) {
	cfg := config.Default()
	cfg.Ingest.Auth.Methods = []string{config.AuthHMAC}
	cfg.Ingest.Auth.HMAC.Secrets = []string{hubSecret}
	auth, err := ingest.NewAuthenticator(cfg.Ingest.Auth, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := ingest.NewHandler(ingest.HandlerOptions{
		Config: cfg.Ingest, Auth: auth, Publisher: nullPublisher{},
		Logger: zap.NewNop(), Metrics: ingest.NewMetrics(prometheus.NewRegistry(), "bench"),
	})
	sig := signHub(loadBody)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(string(loadBody)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
