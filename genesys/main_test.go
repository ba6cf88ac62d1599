package genesys_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/genesys"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Ids of the conversation fixture.
const (
	fixtureConversation = "5f0e6d9a-8c1b-4a7e-9d3f-2b6c8e1a4f70"
	fixtureCustomer     = "c0d1e2f3-a4b5-4c6d-8e7f-9a0b1c2d3e4f"
	fixtureAgent        = "a3c9e2b1-7d4f-4e8a-b6c5-1f2e3d4c5b6a"
	fixtureToken        = "fake-token-for-tests-only"
)

// testClient builds a client for base (the simulator or a fixture server) with its own
// registry and transport; the transport's idle connections close when the test ends, so
// goleak sees no connection goroutines.
func testClient(t testing.TB, base string, edit func(*genesys.Config, *genesys.Options),
) (*genesys.Client, *prometheus.Registry) {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	t.Cleanup(tr.CloseIdleConnections)
	reg := prometheus.NewRegistry()
	cfg := genesys.Config{
		LoginURL: base, APIURL: base, ClientID: "id", ClientSecret: "secret",
		Timeout: 5 * time.Second, RatePerMinute: 600_000, Burst: 1000,
	}
	opts := genesys.Options{
		Registerer: reg, Namespace: "test", HTTPClient: &http.Client{Transport: tr},
		Logger: zap.NewNop(),
	}
	if edit != nil {
		edit(&cfg, &opts)
	}
	c, err := genesys.New(cfg, opts)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c, reg
}

// fixtureServer answers the token endpoint with the token fixture and hands every API call
// to api. It counts both.
type fixtureServer struct {
	URL       string
	tokenHits atomic.Int64
	apiHits   atomic.Int64

	mu       sync.Mutex
	arrivals []time.Time
}

func newFixtureServer(t testing.TB, api http.HandlerFunc) *fixtureServer {
	t.Helper()
	fs := &fixtureServer{}
	token := testsupport.Fixture(t, "genesys/token.json")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, _ *http.Request) {
		fs.tokenHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(token)
	})
	mux.HandleFunc("/api/v2/", func(w http.ResponseWriter, r *http.Request) {
		fs.apiHits.Add(1)
		fs.mu.Lock()
		fs.arrivals = append(fs.arrivals, time.Now())
		fs.mu.Unlock()
		api(w, r)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	fs.URL = ts.URL
	return fs
}

func (fs *fixtureServer) arrivalTimes() []time.Time {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]time.Time(nil), fs.arrivals...)
}

// fixtureAnswer answers with a fixture body, a status and optional headers.
func fixtureAnswer(t testing.TB, status int, fixture string, header ...string,
) http.HandlerFunc {
	t.Helper()
	var body []byte
	if fixture != "" {
		body = testsupport.Fixture(t, "genesys/"+fixture)
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// bodyAnswer answers with a literal body.
func bodyAnswer(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}
