package genesys_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scriptsync/scriptsync/genesys"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// benchClient lifts the limiter out of the way: these benchmarks measure the client and
// the simulator, not the pace Genesys allows.
func benchClient(b *testing.B, base string, hc *http.Client) *genesys.Client {
	b.Helper()
	c, _ := testClient(b, base, func(cfg *genesys.Config, o *genesys.Options) {
		cfg.RatePerMinute, cfg.Burst = 60_000_000, 100_000
		if hc != nil {
			o.HTTPClient = hc
		}
	})
	return c
}

// BenchmarkClientSim runs the client against the simulator over loopback HTTP, from
// parallel goroutines. Allocations include the simulator's, which runs in this process.
func BenchmarkClientSim(b *testing.B) {
	srv, base := testsupport.StartSim(b, sim.Options{ClientID: "id", ClientSecret: "secret"})
	conv, cust := register(b, srv, map[string]string{"ivr_lang": "en-US"})
	c := benchClient(b, base, nil)
	attrs := map[string]string{"cust_tier": "gold", "ivr_lang": "en-US"}
	ctx := context.Background()

	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.GetConversation(ctx, conv); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("patch", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.PatchParticipantAttributes(ctx, conv, cust, "", attrs); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
}

// cannedTransport answers in memory, so BenchmarkClientOnly counts the client's own
// allocations: no sockets, no server.
type cannedTransport struct {
	token, conversation []byte
}

func (ct *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	resp := &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{}, Request: r,
		Body: http.NoBody, ContentLength: 0,
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/oauth/token"):
		resp.Body = io.NopCloser(bytes.NewReader(ct.token))
		resp.Header.Set("Content-Type", "application/json")
	case r.Method == http.MethodGet:
		resp.Body = io.NopCloser(bytes.NewReader(ct.conversation))
	default:
		resp.StatusCode = http.StatusAccepted
	}
	return resp, nil
}

func BenchmarkClientOnly(b *testing.B) {
	ct := &cannedTransport{
		token:        testsupport.Fixture(b, "genesys/token.json"),
		conversation: testsupport.Fixture(b, "genesys/conversation.json"),
	}
	c := benchClient(b, "http://genesys.invalid", &http.Client{Transport: ct})
	attrs := map[string]string{"cust_tier": "gold", "ivr_lang": "en-US"}
	ctx := context.Background()

	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.GetConversation(ctx, fixtureConversation); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("patch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.PatchParticipantAttributes(ctx, fixtureConversation, fixtureCustomer,
				"", attrs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
}
