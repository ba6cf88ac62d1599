package event_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/event"
)

func sample() *event.Event {
	return &event.Event{
		ID: "id-1", Type: "user.start", ConversationID: "c-1", ParticipantID: "p-1",
		EventTime:  time.Date(2026, 12, 3, 16, 0, 0, 123e6, time.UTC),
		ReceivedAt: time.Date(2026, 12, 3, 16, 0, 1, 5, time.UTC),
		Source:     event.SourceNotification,
		Fields: map[string]string{"ani": "tel:+14155550123", "odd": "quote\" back\\ nl\n \x01 ü",
			"bad": "\xff\xfe"},
		Raw: json.RawMessage(`{"a": [1, {"b": "c"}]}`),
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	ev := sample()
	data, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("not JSON: %s", data)
	}
	got, err := event.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	want := *ev
	want.Fields = map[string]string{}
	for k, v := range ev.Fields {
		want.Fields[k] = v
	}
	want.Fields["bad"] = "\ufffd\ufffd" // invalid UTF-8 is replaced, as encoding/json does
	// The reflective encoder is the reference: both must decode to the same event.
	// encoding/json compacts Raw; the hand encoder keeps the sender's bytes exactly.
	ref, _ := json.Marshal(ev)
	refEv, _ := event.Unmarshal(ref)
	if string(got.Raw) != string(ev.Raw) {
		t.Fatalf("raw body changed: %s", got.Raw)
	}
	refEv.Raw = got.Raw
	if !reflect.DeepEqual(got, refEv) {
		t.Fatalf("hand encoder and encoding/json disagree:\n%+v\n%+v", got, refEv)
	}
	if got.Fields["odd"] != want.Fields["odd"] || got.Fields["bad"] != want.Fields["bad"] ||
		!got.EventTime.Equal(want.EventTime) || !got.ReceivedAt.Equal(want.ReceivedAt) {
		t.Fatalf("round trip changed the event: %+v", got)
	}
}

func TestUnmarshalRequiresIdentity(t *testing.T) {
	if _, err := event.Unmarshal([]byte(`{"id":"x"}`)); err == nil {
		t.Fatal("an event without a conversation id was accepted")
	}
}

func TestPartitionIsStable(t *testing.T) {
	a := event.Subject("p", 16, "5f0e6d9a-8c1b-4a7e-9d3f-2b6c8e1a4f70")
	b := event.Subject("p", 16, "5f0e6d9a-8c1b-4a7e-9d3f-2b6c8e1a4f70")
	if a != b || event.Partition("x", 1) != 0 {
		t.Fatalf("subjects differ: %s %s", a, b)
	}
	seen := map[int]bool{}
	for i := range 200 {
		seen[event.Partition(string(rune('a'+i%26))+time.Duration(i).String(), 16)] = true
	}
	if len(seen) < 12 {
		t.Fatalf("partitions poorly spread: %d of 16 used", len(seen))
	}
}
