package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/ingest"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The embedded server's and client's background goroutines end after cleanup
		// returns; these stop within moments of Shutdown.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).Start.func1"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats.go.(*Conn).doReconnect"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
	)
}

// harness is an ingest handler publishing to a real embedded JetStream.
type harness struct {
	nats *testsupport.NATS
	nc   *nats.Conn
	js   jetstream.JetStream
	cfg  *config.Config
	srv  *httptest.Server
	now  time.Time
	reg  *prometheus.Registry
}

// setup builds the ingest against an embedded NATS. mutate adjusts the configuration
// before it is validated.
func setup(t *testing.T, mutate func(*config.Config)) *harness {
	t.Helper()
	n := testsupport.StartNATS(t)
	nc, js := n.Connect(t)
	cfg := config.Default()
	cfg.Ingest.Auth.Methods = []string{config.AuthNone}
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration invalid: %v", err)
	}
	ctx := context.Background()
	stream, err := broker.EnsureEventStream(ctx, js, cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{nats: n, nc: nc, js: js, cfg: &cfg,
		now: time.Date(2026, 12, 3, 16, 0, 30, 0, time.UTC), reg: prometheus.NewRegistry()}
	auth, err := ingest.NewAuthenticator(cfg.Ingest.Auth, func() time.Time { return h.now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	handler := ingest.NewHandler(ingest.HandlerOptions{
		Config:    cfg.Ingest,
		Auth:      auth,
		Publisher: ingest.NewJetStreamPublisher(nc, js, cfg.Stream),
		Ready: func(ctx context.Context) error {
			_, err := stream.Info(ctx)
			return err
		},
		Logger:  zap.NewNop(),
		Metrics: ingest.NewMetrics(h.reg, "test"),
	})
	h.srv = httptest.NewServer(handler)
	t.Cleanup(h.srv.Close)
	return h
}

type response struct {
	status int
	body   map[string]any
	header http.Header
}

func (h *harness) post(t *testing.T, body []byte, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &r.body); err != nil {
			t.Fatalf("answer is not JSON: %q", data)
		}
	}
	return r
}

func (h *harness) stored(t *testing.T) []*event.Event {
	t.Helper()
	var out []*event.Event
	for _, m := range testsupport.StreamMessages(t, h.js, h.cfg.Stream.Name) {
		ev, err := event.Unmarshal(m.Data)
		if err != nil {
			t.Fatalf("stored message %d: %v", m.Sequence, err)
		}
		out = append(out, ev)
	}
	return out
}

// waitStream waits until the client is reconnected and JetStream serves the stream again.
func (h *harness) waitStream(t *testing.T) {
	t.Helper()
	testsupport.Eventually(t, 20*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := h.js.Stream(ctx, h.cfg.Stream.Name)
		return h.nc.IsConnected() && err == nil
	}, "stream reachable after restart")
}

// requests is the ingest's request count with the given outcome, over every shape.
func (h *harness) requests(t *testing.T, outcome string) float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "test_ingest_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

func errorCode(r response) string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func errorMessage(r response) string {
	e, _ := r.body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

func TestFixturesAreStoredNormalized(t *testing.T) {
	cases := []struct {
		file          string
		id, typ, conv string
		participant   string
		source        event.Source
		eventTime     time.Time
		fields        map[string]string
	}{
		{
			file: "events/notification-user-start.json",
			id:   "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f:user.start", typ: "user.start",
			conv:        "5f0e6d9a-8c1b-4a7e-9d3f-2b6c8e1a4f70",
			participant: "a3c9e2b1-7d4f-4e8a-b6c5-1f2e3d4c5b6a",
			source:      event.SourceNotification,
			eventTime:   time.UnixMilli(1796313600123).UTC(),
			fields: map[string]string{
				"ani": "tel:+14155550123", "userId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
				"queueId": "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", "mediaType": "VOICE",
				"eventTime": "1796313600123",
			},
		},
		{
			file: "events/eventbridge-customer-start.json",
			id:   "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", typ: "customer.start",
			conv:        "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
			participant: "b4c5d6e7-f8a9-4b0c-9d1e-2f3a4b5c6d7e",
			source:      event.SourceEventBridge,
			eventTime:   time.UnixMilli(1796313600456).UTC(),
			fields: map[string]string{
				"externalContactId": "d6e7f8a9-b0c1-4d2e-9f3a-4b5c6d7e8f9a",
				"ani":               "tel:+14155550199", "direction": "INBOUND",
			},
		},
		{
			file: "events/custom-script-step-entered.json",
			id:   "f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b", typ: "agent:script:step:entered",
			conv:        "5f0e6d9a-8c1b-4a7e-9d3f-2b6c8e1a4f70",
			participant: "a3c9e2b1-7d4f-4e8a-b6c5-1f2e3d4c5b6a",
			source:      event.SourceFlat,
			eventTime:   time.Date(2026, 12, 3, 16, 0, 1, 250e6, time.UTC),
			fields: map[string]string{
				"scriptId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "stepId": "step-2",
				"ani": "tel:+14155550123",
			},
		},
	}
	h := setup(t, nil)
	for _, c := range cases {
		body := testsupport.Fixture(t, c.file)
		r := h.post(t, body)
		if r.status != http.StatusAccepted || r.body["id"] != c.id || r.body["duplicate"] != false {
			t.Fatalf("%s: got %d %v, want 202 with id %s", c.file, r.status, r.body, c.id)
		}
	}
	stored := h.stored(t)
	if len(stored) != len(cases) {
		t.Fatalf("stored %d events, want %d", len(stored), len(cases))
	}
	for i, c := range cases {
		ev := stored[i]
		if ev.ID != c.id || ev.Type != c.typ || ev.ConversationID != c.conv ||
			ev.ParticipantID != c.participant || ev.Source != c.source ||
			!ev.EventTime.Equal(c.eventTime) {
			t.Errorf("%s: stored %+v", c.file, ev)
		}
		for k, v := range c.fields {
			if ev.Fields[k] != v {
				t.Errorf("%s: field %s = %q, want %q", c.file, k, ev.Fields[k], v)
			}
		}
		if ev.ReceivedAt.IsZero() {
			t.Errorf("%s: received time not set", c.file)
		}
		var raw, orig any
		_ = json.Unmarshal(ev.Raw, &raw)
		_ = json.Unmarshal(testsupport.Fixture(t, c.file), &orig)
		if !jsonEqual(raw, orig) {
			t.Errorf("%s: raw body not kept", c.file)
		}
	}
	// Events of one conversation share a subject, so a consumer can keep their order.
	msgs := testsupport.StreamMessages(t, h.js, h.cfg.Stream.Name)
	if msgs[0].Subject != msgs[2].Subject ||
		!strings.HasSuffix(msgs[0].Subject, ".5f0e6d9a-8c1b-4a7e-9d3f-2b6c8e1a4f70") {
		t.Errorf("subjects %q and %q should be the conversation's", msgs[0].Subject,
			msgs[2].Subject)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestBadFixturesAreRejectedAndNotStored(t *testing.T) {
	h := setup(t, nil)
	cases := []struct {
		file, code, mention string
		status              int
	}{
		{"events/bad-no-conversation.json", "invalid_event", "conversationId", 422},
		{"events/bad-truncated.json", "malformed_event", "ends before", 400},
		{"events/bad-unknown-envelope.json", "malformed_event", "unknown envelope", 400},
		{"events/bad-wrong-types.json", "invalid_event", "topicName must be a string", 422},
	}
	for _, c := range cases {
		r := h.post(t, testsupport.Fixture(t, c.file))
		if r.status != c.status || errorCode(r) != c.code ||
			!strings.Contains(errorMessage(r), c.mention) {
			t.Errorf("%s: got %d %v, want %d %s mentioning %q", c.file, r.status, r.body,
				c.status, c.code, c.mention)
		}
	}
	if n := len(h.stored(t)); n != 0 {
		t.Fatalf("%d bad events stored", n)
	}
}

func TestRequestChecks(t *testing.T) {
	h := setup(t, func(c *config.Config) {
		c.Ingest.MaxBodyBytes = 2048
		c.Ingest.EventTypes = []string{"user.start"}
	})
	body := testsupport.Fixture(t, "events/notification-user-start.json")

	get, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/events", nil)
	if r := do(t, get); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET: got %d allow=%q, want 405 allow=POST", r.status, r.header.Get("Allow"))
	}
	if r := h.post(t, body, "Content-Type", "text/plain"); r.status != 415 {
		t.Errorf("text/plain: got %d, want 415", r.status)
	}
	big := append([]byte(`{"conversationId":"c1","eventType":"x","pad":"`),
		bytes.Repeat([]byte("a"), 4096)...)
	big = append(big, `"}`...)
	if r := h.post(t, big); r.status != 413 || !strings.Contains(errorMessage(r), "2048") {
		t.Errorf("oversized: got %d %v, want 413 naming the limit", r.status, r.body)
	}
	if r := h.post(t, []byte("{\"conversationId\":\"\xff\"}")); r.status != 400 {
		t.Errorf("invalid UTF-8: got %d, want 400", r.status)
	}
	huge := `{"conversationId":"c1","eventType":"x","occurredAt":null,"eventTime":1e400}`
	if r := h.post(t, []byte(huge)); r.status != 422 {
		t.Errorf("huge number: got %d %v, want 422", r.status, r.body)
	}
	flat := testsupport.Fixture(t, "events/custom-script-step-entered.json")
	if r := h.post(t, flat); r.status != 202 || r.body["ignored"] != true {
		t.Errorf("unlisted type: got %d %v, want 202 ignored", r.status, r.body)
	}
	if n := len(h.stored(t)); n != 0 {
		t.Fatalf("%d events stored, want none", n)
	}
	if r := h.post(t, body); r.status != 202 || r.body["ignored"] != nil {
		t.Errorf("listed type: got %d %v, want 202 stored", r.status, r.body)
	}
	if n := len(h.stored(t)); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
}

func TestDeepNestingIsRejected(t *testing.T) {
	h := setup(t, nil)
	deep := `{"conversationId":"c1","eventType":"x","n":` + strings.Repeat("[", 20000) +
		strings.Repeat("]", 20000) + "}"
	r := h.post(t, []byte(deep))
	if r.status != 400 || errorCode(r) != "malformed_event" {
		t.Fatalf("deep nesting: got %d %v, want 400 malformed_event", r.status, r.body)
	}
	if n := len(h.stored(t)); n != 0 {
		t.Fatalf("%d events stored, want none", n)
	}
}

func TestDuplicateIsStoredOnce(t *testing.T) {
	h := setup(t, nil)
	body := testsupport.Fixture(t, "events/eventbridge-customer-start.json")
	for i, wantDup := range []bool{false, true, true} {
		r := h.post(t, body)
		if r.status != 202 || r.body["duplicate"] != wantDup {
			t.Fatalf("delivery %d: got %d %v, want duplicate=%v", i+1, r.status, r.body, wantDup)
		}
	}
	// Without a sender id the identity hash must still recognize the retry.
	noID := []byte(`{"conversationId":"conv-1","eventType":"custom","participantId":"p-1",` +
		`"occurredAt":"2026-12-03T16:00:00Z"}`)
	first, second := h.post(t, noID), h.post(t, noID)
	if first.body["id"] != second.body["id"] || second.body["duplicate"] != true {
		t.Fatalf("hash ids: %v then %v", first.body, second.body)
	}
	// The webhook-id header names the delivery when present.
	r := h.post(t, noID, "webhook-id", "msg_abc")
	if r.body["id"] != "msg_abc" || r.body["duplicate"] != false {
		t.Fatalf("webhook-id: %v", r.body)
	}
	if n := len(h.stored(t)); n != 3 {
		t.Fatalf("stored %d events, want 3", n)
	}
}

func TestNATSDownAnswers503AndStoresNothing(t *testing.T) {
	h := setup(t, func(c *config.Config) { c.Ingest.PublishTimeout = 500 * time.Millisecond })
	h.nats.Shutdown()
	testsupport.Eventually(t, 5*time.Second, func() bool { return !h.nc.IsConnected() },
		"client notices the server is gone")
	body := testsupport.Fixture(t, "events/notification-user-start.json")
	r := h.post(t, body)
	if r.status != 503 || r.header.Get("Retry-After") == "" || errorCode(r) != "unavailable" {
		t.Fatalf("got %d %v, want 503 with Retry-After", r.status, r.body)
	}
	ready, _ := http.Get(h.srv.URL + "/readyz")
	_ = ready.Body.Close()
	if ready.StatusCode != 503 {
		t.Errorf("readyz: got %d, want 503", ready.StatusCode)
	}
	h.nats.Restart()
	h.waitStream(t)
	if n := len(h.stored(t)); n != 0 {
		t.Fatalf("an event answered 503 was stored (%d)", n)
	}
}

func TestEveryAcceptedEventSurvivesRestart(t *testing.T) {
	h := setup(t, nil)
	var ids []string
	for i := range 50 {
		body := []byte(`{"eventId":"restart-` + strconv.Itoa(i) + `","eventType":"custom",` +
			`"conversationId":"conv-` + strconv.Itoa(i%7) + `"}`)
		r := h.post(t, body)
		if r.status != 202 {
			t.Fatalf("event %d: %d %v", i, r.status, r.body)
		}
		ids = append(ids, r.body["id"].(string))
	}
	h.nats.Restart()
	h.waitStream(t)
	got := map[string]bool{}
	for _, ev := range h.stored(t) {
		got[ev.ID] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("event %s answered 202 but missing after restart", id)
		}
	}
}

// While connected, JetStream may still not confirm: no stream takes the subject, or the
// stream refuses to store. Each must be answered 503 with Retry-After and store nothing;
// these go past the publisher's connection check, to the publish future: its error (a
// refusal, answered before the timeout) or its timeout (no answer at all).
func TestUnconfirmedPublishAnswers503(t *testing.T) {
	const timeout = 400 * time.Millisecond
	const (
		refused  = "refused" // the future reports an error before the publish timeout
		noAnswer = "timeout" // nothing answers, the publish timeout ends the wait
		either   = ""
	)
	cases := []struct {
		name string
		// breakStream makes the stream unable to confirm an event.
		breakStream func(t *testing.T, h *harness, sc jetstream.StreamConfig)
		path        string
	}{
		{"stream full, discarding new messages", func(t *testing.T, h *harness,
			sc jetstream.StreamConfig) {
			sc.MaxBytes = 64
			updateStream(t, h, sc)
		}, refused},
		// The client may learn that nothing listens, or wait out the timeout.
		{"no stream takes the subject", func(t *testing.T, h *harness,
			sc jetstream.StreamConfig) {
			sc.Subjects = []string{"elsewhere.>"}
			updateStream(t, h, sc)
		}, either},
		{"a subscriber takes the subject but no stream confirms", func(t *testing.T,
			h *harness, sc jetstream.StreamConfig) {
			sc.Subjects = []string{"elsewhere.>"}
			updateStream(t, h, sc)
			// Another client listens on the event subjects and never answers, so the
			// publish has a receiver and only the publish timeout ends the wait.
			other, _ := h.nats.Connect(t)
			sub, err := other.Subscribe(event.SubjectFilter(h.cfg.Stream.SubjectPrefix),
				func(*nats.Msg) {})
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Flush(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sub.Unsubscribe() })
		}, noAnswer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := setup(t, func(cfg *config.Config) { cfg.Ingest.PublishTimeout = timeout })
			c.breakStream(t, h, broker.EventStreamConfig(h.cfg.Stream))
			body := testsupport.Fixture(t, "events/notification-user-start.json")
			start := time.Now()
			r := h.post(t, body)
			took := time.Since(start)
			if r.status != 503 || r.header.Get("Retry-After") == "" ||
				errorCode(r) != "unavailable" {
				t.Fatalf("got %d %v, want 503 with Retry-After", r.status, r.body)
			}
			if !h.nc.IsConnected() {
				t.Fatal("the client lost its connection: the test meant a connected one")
			}
			if c.path == noAnswer && took < timeout {
				t.Errorf("answered after %s, before the publish timeout %s", took, timeout)
			}
			if c.path == refused && took >= timeout {
				t.Errorf("answered after %s: the refusal was not reported, the publish "+
					"timed out", took)
			}
			if n := len(h.stored(t)); n != 0 {
				t.Fatalf("an event answered 503 was stored (%d)", n)
			}
			if n := h.requests(t, "503"); n != 1 {
				t.Errorf("requests counted as 503: %v, want 1", n)
			}
		})
	}
}

func updateStream(t *testing.T, h *harness, sc jetstream.StreamConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.js.UpdateStream(ctx, sc); err != nil {
		t.Fatalf("update stream: %v", err)
	}
}
