package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/ops"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).Start.func1"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	)
}

const testToken = "console-test-token-0123456789"

// fixture is a JetStream with both streams and the workers' consumer, a console over it,
// and the console served on loopback.
type fixture struct {
	js      jetstream.JetStream
	cfg     config.Config
	ctx     context.Context
	reg     *prometheus.Registry
	console *Console
	url     string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	cfg := config.Default()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if _, err := broker.EnsureEventStream(ctx, js, cfg.Stream); err != nil {
		t.Fatal(err)
	}
	if _, err := broker.EnsureDeadLetterStream(ctx, js, cfg.Worker.DeadLetter, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream.Name, jetstream.ConsumerConfig{
		Durable: cfg.Worker.Consumer, AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{js: js, cfg: cfg, ctx: ctx, reg: prometheus.NewRegistry()}
	f.console = newConsole(Options{JS: js, Stream: cfg.Stream, DeadLetter: cfg.Worker.DeadLetter,
		Consumer: cfg.Worker.Consumer, Gatherer: f.reg, Token: testToken,
		Logger: zaptest.NewLogger(t)})
	mux := http.NewServeMux()
	f.console.register(mux, testToken)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func newEvent(id, conv string) *event.Event {
	now := time.Now().UTC()
	return &event.Event{ID: id, Type: "user.start", ConversationID: conv,
		ParticipantID: "p-" + id, EventTime: now, ReceivedAt: now, Source: event.SourceFlat,
		Fields: map[string]string{"ani": "tel:+14155550123", "stepId": "s1"},
		Raw:    json.RawMessage(`{"ani":"tel:+14155550123"}`)}
}

// publish stores an event in the event stream; replayOf marks it as a replay.
func (f *fixture) publish(t *testing.T, ev *event.Event, replayOf string) uint64 {
	t.Helper()
	data, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: event.Subject(f.cfg.Stream.SubjectPrefix,
		f.cfg.Stream.Partitions, ev.ConversationID), Data: data, Header: nats.Header{}}
	if replayOf != "" {
		msg.Header.Set(event.HeaderReplayOf, replayOf)
	}
	ack, err := f.js.PublishMsg(f.ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// storeDead stores a dead letter as the worker does and returns its sequence.
func (f *fixture) storeDead(t *testing.T, reason string, ev *event.Event) uint64 {
	t.Helper()
	d := &event.DeadLetter{Event: ev, Reason: reason, Summary: "summary of " + reason,
		Error: event.ErrorInfo{Class: reason, Message: "refused", Status: 400,
			Code: "bad.request", CorrelationID: "corr-" + ev.ID},
		Attempts: 2, FirstAttempt: time.Now().UTC().Add(-time.Minute),
		LastAttempt: time.Now().UTC(), Worker: "test/1", StreamSequence: 7}
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := f.js.Publish(f.ctx, event.DeadLetterSubject(f.cfg.Worker.DeadLetter.SubjectPrefix,
		reason, ev.ConversationID), data)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// call sends a request with the token and decodes the answer into out.
func (f *fixture) call(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func TestPagesAreServedWithTheirHeaders(t *testing.T) {
	f := setup(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	defer client.CloseIdleConnections()
	cases := []struct {
		path, wantType string
		wantStatus     int
	}{
		{"/console/", "text/html; charset=utf-8", http.StatusOK},
		{"/console/app.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/console/style.css", "text/css; charset=utf-8", http.StatusOK},
		{"/console", "", http.StatusMovedPermanently},
		{"/console/missing.js", "", http.StatusNotFound},
	}
	for _, c := range cases {
		resp, err := client.Get(f.url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != c.wantStatus ||
			(c.wantType != "" && h.Get("Content-Type") != c.wantType) {
			t.Errorf("%s: %d %s", c.path, resp.StatusCode, h.Get("Content-Type"))
		}
		if !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'") ||
			h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", c.path, h)
		}
	}
}

func TestEndpointsNeedTheToken(t *testing.T) {
	f := setup(t)
	for _, path := range []string{"/admin/v1/overview", "/admin/v1/dead-letter-reasons",
		"/admin/v1/search?conversation_id=c1"} {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Bearer ",
			"Basic " + testToken} {
			req, err := http.NewRequest(http.MethodGet, f.url+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized ||
				resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s with %q: %d", path, auth, resp.StatusCode)
			}
		}
		if code := f.call(t, http.MethodGet, path, "", nil); code != http.StatusOK {
			t.Errorf("%s with the token: %d", path, code)
		}
	}

	// A console built without a token lets nothing through, not even an empty bearer.
	mux := http.NewServeMux()
	newConsole(Options{JS: f.js}).register(mux, "")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/admin/v1/overview", nil)
	req.Header.Set("Authorization", "Bearer ")
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", rec.Code)
	}
}

func TestChangesNeedAJSONBody(t *testing.T) {
	f := setup(t)
	seq := f.storeDead(t, event.ReasonPermanent, newEvent("e1", "c1"))
	body := fmt.Sprintf(`{"sequences": [%d]}`, seq)
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x"} {
		req, err := http.NewRequest(http.MethodPost, f.url+"/admin/v1/dead-letters/delete",
			strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("content type %q: %d", ct, resp.StatusCode)
		}
	}
	var res ops.Result
	if code := f.call(t, http.MethodPost, "/admin/v1/dead-letters/delete", body,
		&res); code != http.StatusOK || res.Deleted != 1 {
		t.Fatalf("with JSON: %d %+v", code, res)
	}
}

func TestDeleteSelectsBySequenceFilterOrAll(t *testing.T) {
	f := setup(t)
	a := f.storeDead(t, event.ReasonPermanent, newEvent("e1", "c1"))
	f.storeDead(t, event.ReasonPermanent, newEvent("e2", "c2"))
	f.storeDead(t, event.ReasonNotReady, newEvent("e3", "c3"))
	f.storeDead(t, event.ReasonNotReady, newEvent("e4", "c4"))
	const path = "/admin/v1/dead-letters/delete"

	for _, bad := range []string{`{}`, `{"reason": "nope"}`, `{"sequences": [0]}`,
		`{"unknown": 1}`, `not json`} {
		if code := f.call(t, http.MethodPost, path, bad, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, code)
		}
	}
	var res ops.Result
	if code := f.call(t, http.MethodPost, path, `{"reason": "not_ready", "dry_run": true}`,
		&res); code != http.StatusOK || res.Matched != 2 || !res.DryRun || !res.Complete {
		t.Fatalf("dry run: %d %+v", code, res)
	}
	if code := f.call(t, http.MethodPost, path, fmt.Sprintf(`{"sequences": [%d, 999]}`, a),
		&res); code != http.StatusOK || res.Deleted != 1 || len(res.NotFound) != 1 {
		t.Fatalf("by sequence: %d %+v", code, res)
	}
	if code := f.call(t, http.MethodPost, path, `{"reason": "not_ready"}`,
		&res); code != http.StatusOK || res.Deleted != 2 {
		t.Fatalf("by filter: %d %+v", code, res)
	}
	if code := f.call(t, http.MethodPost, path, `{"all": true}`, &res); code != http.StatusOK ||
		res.Deleted != 1 || !res.Complete {
		t.Fatalf("all: %d %+v", code, res)
	}
}

func TestReasonsAreCounted(t *testing.T) {
	f := setup(t)
	f.storeDead(t, event.ReasonPermanent, newEvent("e1", "c1"))
	f.storeDead(t, event.ReasonPermanent, newEvent("e2", "c1"))
	f.storeDead(t, event.ReasonPermanent, newEvent("e3", "c2"))
	f.storeDead(t, event.ReasonNotReady, newEvent("e4", "c2"))

	cases := []struct {
		query string
		want  map[string]uint64
	}{
		{"", map[string]uint64{"permanent": 3, "not_ready": 1}},
		{"?conversation_id=c2", map[string]uint64{"permanent": 1, "not_ready": 1}},
		{"?since=2000-01-01T00:00:00Z", map[string]uint64{"permanent": 3, "not_ready": 1}},
		{"?since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			map[string]uint64{}},
		{"?conversation_id=none", map[string]uint64{}},
	}
	for _, c := range cases {
		var got reasonCounts
		if code := f.call(t, http.MethodGet, "/admin/v1/dead-letter-reasons"+c.query, "",
			&got); code != http.StatusOK {
			t.Fatalf("%s: %d", c.query, code)
		}
		total := uint64(0)
		for _, n := range c.want {
			total += n
		}
		if fmt.Sprint(got.ByReason) != fmt.Sprint(c.want) || got.Total != total {
			t.Errorf("%s: %+v, want %v", c.query, got, c.want)
		}
	}
	for _, bad := range []string{"?since=yesterday", "?conversation_id=a.b",
		"?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"} {
		if code := f.call(t, http.MethodGet, "/admin/v1/dead-letter-reasons"+bad, "",
			nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, code)
		}
	}
}

func TestSearchFindsEventsAndDeadLetters(t *testing.T) {
	f := setup(t)
	orig := newEvent("e1", "conv-a")
	first := f.publish(t, orig, "")
	f.publish(t, newEvent("other", "conv-b"), "")
	f.publish(t, orig, "e1")
	f.storeDead(t, event.ReasonPermanent, orig)
	f.storeDead(t, event.ReasonPermanent, newEvent("e9", "conv-b"))

	// The workers' consumer has settled the first event.
	cons, err := f.js.Consumer(f.ctx, f.cfg.Stream.Name, f.cfg.Worker.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(f.ctx); err != nil {
			t.Fatal(err)
		}
	}

	var got searchBody
	if code := f.call(t, http.MethodGet, "/admin/v1/search?conversation_id=conv-a", "",
		&got); code != http.StatusOK {
		t.Fatalf("search: %d", code)
	}
	if got.EventsTotal != 2 || len(got.Events) != 2 || len(got.DeadLetters) != 1 ||
		got.AckFloor != first {
		t.Fatalf("search: %+v", got)
	}
	a, b := got.Events[0], got.Events[1]
	if a.Sequence != first || !a.Settled || a.ReplayOf != "" || b.ReplayOf != "e1" ||
		b.Settled || got.DeadLetters[0].EventID != "e1" {
		t.Fatalf("events: %+v %+v", a, b)
	}
	if a.Event.Fields["ani"] != strings.Repeat("*", 14)+"23" || a.Event.Raw != nil {
		t.Fatalf("masked: %+v", a.Event)
	}
	if code := f.call(t, http.MethodGet,
		"/admin/v1/search?conversation_id=conv-a&reveal=true", "", &got); code != http.StatusOK ||
		got.Events[0].Event.Fields["ani"] != "tel:+14155550123" {
		t.Fatalf("revealed: %d %+v", code, got.Events[0].Event)
	}
	for _, bad := range []string{"", "?conversation_id=", "?conversation_id=a.*"} {
		if code := f.call(t, http.MethodGet, "/admin/v1/search"+bad, "",
			nil); code != http.StatusBadRequest {
			t.Errorf("%q: %d", bad, code)
		}
	}
}

func TestOverviewRatesFromSamples(t *testing.T) {
	f := setup(t)
	ns := "scriptsync"
	stored := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
		Subsystem: "ingest", Name: "requests_total"}, []string{"outcome", "shape"})
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "ingest",
		Name: "in_flight_requests"})
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
		Subsystem: "worker", Name: "events_total"}, []string{"outcome", "reason"})
	workerInFlight := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns,
		Subsystem: "worker", Name: "in_flight_events"})
	f.reg.MustRegister(stored, inFlight, events, workerInFlight)
	f.publish(t, newEvent("e1", "c1"), "")
	f.storeDead(t, event.ReasonBadData, newEvent("e2", "c2"))

	clock := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s := f.console.sampler
	s.now = func() time.Time { return clock }
	step := func(in, applied, dead float64) {
		stored.WithLabelValues("stored", "flat").Add(in)
		stored.WithLabelValues("duplicate", "flat").Add(1)
		events.WithLabelValues("applied", "").Add(applied)
		events.WithLabelValues("retried", "not_ready").Add(3)
		if dead > 0 {
			events.WithLabelValues("dead_lettered", event.ReasonBadData).Add(dead)
		}
		s.take(f.ctx)
		clock = clock.Add(5 * time.Second)
	}
	step(0, 0, 0)
	step(10, 5, 0)
	step(20, 15, 1)

	var got overviewBody
	if code := f.call(t, http.MethodGet, "/admin/v1/overview", "", &got); code != http.StatusOK {
		t.Fatalf("overview: %d", code)
	}
	if len(got.Points) != 2 || got.Points[0].In != 2 || got.Points[1].In != 4 ||
		got.Points[1].Applied != 3 || got.Points[1].DeadLettered != 0.2 ||
		got.Points[1].RateLimited != 0 {
		t.Fatalf("points: %+v", got.Points)
	}
	if got.Totals.In != 30 || got.Totals.Applied != 20 ||
		got.Totals.DeadLettered[event.ReasonBadData] != 1 {
		t.Fatalf("totals: %+v", got.Totals)
	}
	if !got.Measured.Ingest || !got.Measured.Worker || got.Measured.Genesys ||
		!got.Measured.Lag || got.Lag == nil || got.Lag.Pending != 1 ||
		got.Points[1].Lag == nil || *got.Points[1].Lag != 1 {
		t.Fatalf("measured %+v, lag %+v", got.Measured, got.Lag)
	}
	if got.DeadLetters.Total != 1 || got.DeadLetters.ByReason[event.ReasonBadData] != 1 {
		t.Fatalf("dead letters: %+v", got.DeadLetters)
	}
	if got.IntervalSeconds != 5 || got.WindowSeconds != 600 {
		t.Fatalf("interval %g, window %g", got.IntervalSeconds, got.WindowSeconds)
	}
}

func TestRingKeepsTheWindow(t *testing.T) {
	s := newSampler(Options{Interval: time.Second, Window: 3 * time.Second},
		func(context.Context) (*lag, error) { return nil, context.DeadlineExceeded })
	clock := time.Unix(0, 0)
	s.now = func() time.Time { return clock }
	s.log = zaptest.NewLogger(t)
	for range 5 {
		s.take(context.Background())
		clock = clock.Add(time.Second)
	}
	got := s.samples()
	if len(got) != 3 || got[0].at.Unix() != 2 || got[2].at.Unix() != 4 || got[2].lag != nil {
		t.Fatalf("samples: %+v", got)
	}
}

func TestCounterResetCountsFromZero(t *testing.T) {
	at := time.Unix(100, 0)
	pts := rates([]sample{
		{at: at, stored: 50},
		{at: at.Add(2 * time.Second), stored: 4},
	})
	if len(pts) != 1 || pts[0].In != 2 {
		t.Fatalf("points: %+v", pts)
	}
}

func TestStartStopsWithItsContext(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	c := Start(ctx, mux, Options{JS: f.js, Stream: f.cfg.Stream,
		DeadLetter: f.cfg.Worker.DeadLetter, Consumer: f.cfg.Worker.Consumer,
		Gatherer: f.reg, Token: testToken, Interval: 10 * time.Millisecond})
	testsupport.Eventually(t, 5*time.Second, func() bool {
		return len(c.sampler.samples()) >= 2
	}, "the sampler takes samples")
	cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the sampler did not stop")
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/console/", nil)
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte("app.js")) {
		t.Fatalf("pages: %d", rec.Code)
	}
}
