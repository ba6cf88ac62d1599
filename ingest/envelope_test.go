package ingest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/ingest"
)

// An event with neither a sender id nor a time of its own must get the same id on every
// retry of the same bytes, however much later the retry arrives, or it is stored twice.
func TestHashIDWithoutEventTimeIgnoresReceiptTime(t *testing.T) {
	body := []byte(`{"conversationId":"conv-1","eventType":"custom","participantId":"p-1"}`)
	first := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	retry := first.Add(90 * time.Second)
	a, err := ingest.Normalize(body, "", first)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ingest.Normalize(append(append([]byte(" "), body...), '\n'), "", retry)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || !strings.HasPrefix(a.ID, "sha256:") {
		t.Fatalf("a retry of the same bytes got id %s, then %s", a.ID, b.ID)
	}
	// Downstream still sees the receipt time as the event's time.
	if !a.EventTime.Equal(first) || !b.EventTime.Equal(retry) {
		t.Fatalf("event times %s and %s, want the receipt times", a.EventTime, b.EventTime)
	}
	// Another body names another event, even with the same type and identifiers.
	other := []byte(`{"conversationId":"conv-1","eventType":"custom","participantId":"p-1",` +
		`"stepId":"step-2"}`)
	c, err := ingest.Normalize(other, "", first)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == a.ID {
		t.Fatalf("two different events without a time share the id %s", a.ID)
	}
}

// With a time of its own, the id is the hash of type, ids and time alone, as before: the
// same event re-sent with other extra fields keeps its id.
func TestHashIDWithEventTimeIsStable(t *testing.T) {
	withTime := func(extra string) []byte {
		return []byte(`{"conversationId":"conv-1","eventType":"custom","participantId":"p-1",` +
			`"occurredAt":"2026-12-03T16:00:00Z"` + extra + `}`)
	}
	a, err := ingest.Normalize(withTime(""), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ingest.Normalize(withTime(`,"note":"resent"`), "", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || !strings.HasPrefix(a.ID, "sha256:") {
		t.Fatalf("ids %s and %s, want one sha256: id", a.ID, b.ID)
	}
	if !a.EventTime.Equal(time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("event time %s, want the body's", a.EventTime)
	}
}

// The receiving harness answers a retry of a timeless event as a duplicate and stores it
// once, even when the retry comes in a later millisecond.
func TestTimelessRetryIsStoredOnce(t *testing.T) {
	h := setup(t, nil)
	body := []byte(`{"conversationId":"conv-1","eventType":"custom","participantId":"p-1"}`)
	first := h.post(t, body)
	time.Sleep(5 * time.Millisecond)
	second := h.post(t, body)
	if first.status != 202 || second.status != 202 || first.body["id"] != second.body["id"] ||
		second.body["duplicate"] != true {
		t.Fatalf("first %d %v, retry %d %v: want one id, the retry a duplicate",
			first.status, first.body, second.status, second.body)
	}
	if n := len(h.stored(t)); n != 1 {
		t.Fatalf("stored %d events, want 1", n)
	}
}
