// Package event holds the normalized event that every part of scriptsync speaks after the
// ingest has decoded a sender's envelope, its encoding on the stream, and the names of the
// streams and subjects it travels on.
package event

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"
)

// Source names the envelope shape an event arrived in.
type Source string

// The envelope shapes the ingest recognizes.
const (
	SourceNotification Source = "notification"
	SourceEventBridge  Source = "eventbridge"
	SourceFlat         Source = "flat"
)

// Event is one conversation event, normalized. It is what the ingest publishes and what the
// worker consumes; nothing downstream of the ingest looks at the sender's envelope again.
type Event struct {
	// ID identifies the event for deduplication; it is the stream's Nats-Msg-Id.
	ID string `json:"id"`
	// Type is the topic kind (user.start, customer.start, ...) or the flat event's type.
	Type string `json:"type"`
	// ConversationID is the Genesys conversation the event belongs to. Always set.
	ConversationID string `json:"conversation_id"`
	// ParticipantID is the participant the event names, when it names one.
	ParticipantID string `json:"participant_id,omitempty"`
	// EventTime is when the sender says the event happened; the receipt time when it does
	// not say.
	EventTime time.Time `json:"event_time"`
	// ReceivedAt is when the ingest accepted the request.
	ReceivedAt time.Time `json:"received_at"`
	// Source is the envelope shape the event arrived in.
	Source Source `json:"source"`
	// Fields holds the scalar fields of the event body, numbers and booleans as their JSON
	// text. Phone numbers in here are personal data: never log them.
	Fields map[string]string `json:"fields,omitempty"`
	// Raw is the request body's JSON value exactly as received, without the whitespace
	// around it. Never log it.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Field returns the named scalar field of the body, or "" when it is absent.
func (e *Event) Field(name string) string {
	return e.Fields[name]
}

// Unmarshal decodes an event read from the stream.
func Unmarshal(data []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if e.ID == "" || e.ConversationID == "" {
		return nil, fmt.Errorf("decode event: id and conversation_id are required")
	}
	return &e, nil
}

// Headers set on stream messages beside the body.
const (
	// HeaderMsgID is JetStream's deduplication header.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderReplayOf marks a message re-published by an operator; its value is the original
	// event id.
	HeaderReplayOf = "Scriptsync-Replay-Of"
)

// Partition maps a conversation id onto one of n partitions. Every event of a conversation
// lands in the same partition, which lets consumers keep per-conversation order if they
// want it.
func Partition(conversationID string, n int) int {
	if n <= 1 || n > math.MaxUint16 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(conversationID))
	return int(h.Sum32() % uint32(n)) //nolint:gosec // n is bounded above

}

// Subject is the stream subject an event is published on:
// <prefix>.<partition>.<conversation id>.
func Subject(prefix string, partitions int, conversationID string) string {
	return prefix + "." + strconv.Itoa(Partition(conversationID, partitions)) + "." +
		conversationID
}

// SubjectFilter matches every event subject under prefix.
func SubjectFilter(prefix string) string {
	return prefix + ".>"
}
