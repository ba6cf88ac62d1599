package genesys_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scriptsync/scriptsync/genesys"
)

// counterValue sums the counter's series whose labels include want.
func counterValue(t testing.TB, reg *prometheus.Registry, name string,
	want map[string]string) float64 {
	t.Helper()
	var sum float64
	for _, m := range metricSeries(t, reg, name) {
		if hasLabels(m, want) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func metricSeries(t testing.TB, reg *prometheus.Registry, name string) []*dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestMetricsUseRouteTemplates(t *testing.T) {
	t.Parallel()
	fs := newFixtureServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fixtureAnswer(t, http.StatusNotFound, "error-404.json")(w, r)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	c, reg := testClient(t, fs.URL, nil)
	ctx := ctxT(t)
	_, _ = c.GetConversation(ctx, fixtureConversation)
	if err := c.PatchParticipantAttributes(ctx, fixtureConversation, fixtureCustomer, "",
		map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}

	get := map[string]string{"method": "GET", "status_class": "4xx",
		"route": "/api/v2/conversations/{conversationId}"}
	patch := map[string]string{"method": "PATCH", "status_class": "2xx",
		"route": "/api/v2/conversations/{conversationId}/participants/{participantId}/attributes"}
	for _, want := range []map[string]string{get, patch} {
		if v := counterValue(t, reg, "test_genesys_requests_total", want); v != 1 {
			t.Errorf("requests_total%v = %v, want 1", want, v)
		}
	}
	for _, m := range metricSeries(t, reg, "test_genesys_requests_total") {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), fixtureConversation) {
				t.Errorf("label %s carries an id: %s", l.GetName(), l.GetValue())
			}
		}
	}
	if v := counterValue(t, reg, "test_genesys_token_fetches_total", nil); v != 1 {
		t.Errorf("token fetches %v", v)
	}
	if len(metricSeries(t, reg, "test_genesys_limiter_wait_seconds")) != 1 {
		t.Error("no limiter wait histogram")
	}
}

func TestLogsCarryCorrelationIDNeverToken(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	fs := newFixtureServer(t, fixtureAnswer(t, http.StatusTooManyRequests, "error-429.json",
		"Retry-After", "1"))
	c, _ := testClient(t, fs.URL, func(_ *genesys.Config, o *genesys.Options) {
		o.Logger = zap.New(core)
	})
	_, _ = c.GetConversation(ctxT(t), fixtureConversation)

	if logs.Len() == 0 {
		t.Fatal("nothing logged")
	}
	sawCorrelation := false
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + strings.TrimSpace(toString(v))
			if k == "correlation_id" && v == "2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b" {
				sawCorrelation = true
			}
		}
		if strings.Contains(line, fixtureToken) {
			t.Errorf("token logged: %s", line)
		}
	}
	if !sawCorrelation {
		t.Error("no log line with the correlation id")
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return ""
}

// TestTwoClientsShareARegistry: a process that rebuilds its client keeps its series.
func TestTwoClientsShareARegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := genesys.New(genesys.Config{Region: "eu-west-1", ClientID: "a",
			ClientSecret: "b"}, genesys.Options{Registerer: reg}); err != nil {
			t.Fatalf("second client on one registry: %v", err)
		}
	}
}
