package worker

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys"
)

func testWorker(now time.Time) *Worker {
	return &Worker{cfg: config.Default().Worker, now: func() time.Time { return now }}
}

func TestFailurePolicy(t *testing.T) {
	now := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	w := testWorker(now)
	ev := func(age time.Duration) *event.Event {
		return &event.Event{ID: "e", ConversationID: "c", EventTime: now.Add(-age),
			ReceivedAt: now.Add(-age)}
	}
	meta := func(age time.Duration, delivered uint64) *jetstream.MsgMetadata {
		return &jetstream.MsgMetadata{Timestamp: now.Add(-age), NumDelivered: delivered}
	}
	rateLimited := &genesys.APIError{Status: 429, RetryAfter: 7 * time.Second}
	hugeWait := &genesys.APIError{Status: 429, RetryAfter: time.Hour}
	cases := []struct {
		name           string
		class          string
		err            error
		eventAge       time.Duration
		storedAge      time.Duration
		delivered      uint64
		kind           kind
		reason         string
		minDel, maxDel time.Duration
	}{
		{"not ready at first", "not_ready", nil, 0, 0, 1, kindRetry, "", 80 * time.Millisecond,
			120 * time.Millisecond},
		{"not ready after 32s is capped", "not_ready", nil, 32 * time.Second, 32 * time.Second,
			1, kindRetry, "", 1600 * time.Millisecond, 2400 * time.Millisecond},
		{"not ready past the window", "not_ready", nil, 61 * time.Second, 61 * time.Second, 1,
			kindDead, event.ReasonNotReady, 0, 0},
		{"a sender's clock ahead does not stretch the window", "not_ready", nil,
			-10 * time.Minute, 61 * time.Second, 1, kindDead, event.ReasonNotReady, 0, 0},
		{"a late delivery gets its whole window", "not_ready", nil, 5 * time.Minute, 0, 1,
			kindRetry, "", 80 * time.Millisecond, 120 * time.Millisecond},
		{"replayed event gets a new window", "not_ready", nil, time.Hour, time.Second, 1,
			kindRetry, "", 80 * time.Millisecond, 120 * time.Millisecond},
		{"429 waits Retry-After", "rate_limited", rateLimited, 0, 0, 1, kindRetry, "",
			5600 * time.Millisecond, 8400 * time.Millisecond},
		{"429 wait is capped", "rate_limited", hugeWait, 0, 0, 1, kindRetry, "",
			96 * time.Second, 144 * time.Second},
		{"transient backs off from 1s", "transient", nil, 0, 0, 1, kindRetry, "",
			800 * time.Millisecond, 1200 * time.Millisecond},
		{"transient doubles with age", "transient", nil, 0, 20 * time.Second, 10, kindRetry,
			"", 8 * time.Second, 12 * time.Second},
		{"transient capped at a minute", "transient", nil, 0, 50 * time.Minute, 10, kindRetry,
			"", 48 * time.Second, 72 * time.Second},
		{"an old event's first 5xx waits 1s, not the cap", "transient", nil, 0,
			50 * time.Minute, 1, kindRetry, "", 800 * time.Millisecond, 1200 * time.Millisecond},
		{"an event older than the budget still gets its attempts", "transient", nil, 0,
			2 * time.Hour, 3, kindRetry, "", 3200 * time.Millisecond, 4800 * time.Millisecond},
		{"an event older than the budget dead after its attempts", "transient", nil, 0,
			2 * time.Hour, minTransientAttempts, kindDead, event.ReasonTransient, 0, 0},
		{"transient past max age", "transient", nil, 0, 61 * time.Minute, 10, kindDead,
			event.ReasonTransient, 0, 0},
		{"auth past max age", "auth", nil, 0, 61 * time.Minute, 10, kindDead, event.ReasonAuth,
			0, 0},
		{"permission dead at once", "permission", nil, 0, 0, 1, kindDead, event.ReasonPermission,
			0, 0},
		{"permanent dead at once", "permanent", nil, 0, 0, 1, kindDead, event.ReasonPermanent,
			0, 0},
		{"bad lookup data dead at once", classBadData, nil, 0, 0, 1, kindDead,
			event.ReasonBadData, 0, 0},
	}
	for _, c := range cases {
		err := c.err
		if err == nil {
			err = errors.New(c.class)
		}
		res := w.failure(c.class, err, ev(c.eventAge), meta(c.storedAge, c.delivered))
		if res.kind != c.kind || res.reason != c.reason {
			t.Errorf("%s: got %s/%q, want %s/%q", c.name, res.kind, res.reason, c.kind, c.reason)
			continue
		}
		if c.kind == kindRetry && (res.delay < c.minDel || res.delay > c.maxDel) {
			t.Errorf("%s: delay %s outside [%s, %s]", c.name, res.delay, c.minDel, c.maxDel)
		}
	}
}

func TestMerge(t *testing.T) {
	current := map[string]string{"ivr_lang": "en-US", "cust_tier": "bronze", "vip": "yes",
		"empty_protected": ""}
	values := map[string]string{"cust_tier": "gold", "vip": "no", "open_case": "CS-1",
		"empty_protected": "filled", "ivr_lang": "en-US"}
	protect := map[string]bool{"vip": true, "empty_protected": true}
	merged, changed := merge(current, values, protect)
	wantMerged := map[string]string{"ivr_lang": "en-US", "cust_tier": "gold", "vip": "yes",
		"open_case": "CS-1", "empty_protected": "filled"}
	wantChanged := map[string]string{"cust_tier": "gold", "open_case": "CS-1",
		"empty_protected": "filled"}
	if !maps.Equal(merged, wantMerged) || !maps.Equal(changed, wantChanged) {
		t.Fatalf("merged %v changed %v", merged, changed)
	}
	if current["cust_tier"] != "bronze" {
		t.Fatal("merge changed the caller's map")
	}
	if _, changed := merge(wantMerged, values, protect); len(changed) != 0 {
		t.Fatalf("a second merge of the same values changed %v", changed)
	}
}

func TestTarget(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	conv := &genesys.Conversation{Participants: []genesys.Participant{
		{ID: "old-customer", Purpose: "customer", StartTime: at(1), State: "disconnected",
			EndTime: at(5)},
		{ID: "customer", Purpose: "customer", StartTime: at(2), State: "connected"},
		{ID: "agent", Purpose: "agent", StartTime: at(3), State: "connected"},
		{ID: "ext", Purpose: "external", StartTime: at(4), State: "connected"},
	}}
	cases := []struct {
		target, participant, want string
	}{
		{config.TargetEvent, "agent", "agent"},
		{config.TargetEvent, "", "customer"},
		{config.TargetEvent, "missing", ""},
		{config.TargetCustomer, "agent", "customer"},
		{config.TargetExternal, "agent", "ext"},
	}
	for _, c := range cases {
		w := testWorker(time.Now())
		w.cfg.Target = c.target
		got := w.target(conv, &event.Event{ParticipantID: c.participant})
		name := ""
		if got != nil {
			name = got.ID
		}
		if name != c.want {
			t.Errorf("target %s with participant %q: got %q, want %q", c.target, c.participant,
				name, c.want)
		}
	}
}

func TestJitterStaysWithinAFifth(t *testing.T) {
	for i := range 1000 {
		d := time.Duration(i+1) * time.Millisecond
		if j := jitter(d); j < d-d/5 || j > d+d/5 {
			t.Fatalf("jitter(%s) = %s", d, j)
		}
	}
}

// The consumer takes max_ack_pending from the configuration and leaves max_deliver to the
// worker: a JetStream limit would drop an event silently at its last delivery.
func TestConsumerConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Worker.MaxAckPending = 1234
	c := ConsumerConfig(cfg.Worker, cfg.Stream)
	if c.MaxAckPending != 1234 || c.MaxDeliver != -1 || c.AckWait != cfg.Worker.AckWait ||
		c.Durable != cfg.Worker.Consumer {
		t.Fatalf("consumer %+v", c)
	}
}
