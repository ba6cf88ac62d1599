package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// Reasons an event is dead-lettered. They are subject tokens and metric labels, so they
// stay short and fixed.
const (
	// ReasonNotReady: the participant never became visible within the not-ready window.
	ReasonNotReady = "not_ready"
	// ReasonTransient: Genesys or the lookup store kept failing for the transient max age.
	ReasonTransient = "transient"
	// ReasonAuth: Genesys kept refusing the client credentials for the transient max age.
	ReasonAuth = "auth"
	// ReasonPermission: Genesys answered 403; the OAuth client lacks a permission.
	ReasonPermission = "permission"
	// ReasonPermanent: Genesys refused the request for good (400 validation and the like).
	ReasonPermanent = "permanent"
	// ReasonBadData: the lookup store holds a record the mapping cannot use.
	ReasonBadData = "bad_data"
	// ReasonUndecodable: the stream message is not an event.
	ReasonUndecodable = "undecodable"
	// ReasonMaxDeliveries: the delivery safety net ran out before a retry class ended.
	ReasonMaxDeliveries = "max_deliveries"
)

// DeadLetter is one entry of the dead-letter stream: an event that could not be applied,
// why, and what was tried.
type DeadLetter struct {
	// Event is the original event; nil only for an undecodable message, whose bytes are
	// in Undecodable.
	Event       *Event          `json:"event,omitempty"`
	Undecodable json.RawMessage `json:"undecodable,omitempty"`
	// Reason is one of the Reason constants.
	Reason string `json:"reason"`
	// Summary says in words why, for people.
	Summary string `json:"summary"`
	// Error is the last error seen.
	Error ErrorInfo `json:"error"`
	// Attempts is how many times the event was delivered to a worker.
	Attempts int `json:"attempts"`
	// FirstAttempt is when the event was stored, LastAttempt when the worker gave up.
	FirstAttempt time.Time `json:"first_attempt"`
	LastAttempt  time.Time `json:"last_attempt"`
	// Worker names the process that gave up (host and pid).
	Worker string `json:"worker"`
	// StreamSequence is the event's sequence in the event stream.
	StreamSequence uint64 `json:"stream_sequence"`
}

// ErrorInfo is the last error behind a dead letter. Status, Code and CorrelationID are
// set when Genesys answered; give the correlation id to Genesys support.
type ErrorInfo struct {
	Class         string `json:"class"`
	Message       string `json:"message"`
	Status        int    `json:"status,omitempty"`
	Code          string `json:"code,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// DeadLetterSubject is an entry's subject: <prefix>.<reason>.<conversation id>, so entries
// can be listed by reason or conversation with a subject filter.
func DeadLetterSubject(prefix, reason, conversationID string) string {
	if conversationID == "" {
		conversationID = "unknown"
	}
	return prefix + "." + reason + "." + conversationID
}

// UnmarshalDeadLetter decodes a dead-letter entry.
func UnmarshalDeadLetter(data []byte) (*DeadLetter, error) {
	var d DeadLetter
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode dead letter: %w", err)
	}
	return &d, nil
}
