package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scriptsync/scriptsync/event"
)

// Parse errors fall into two kinds that the sender must fix differently.
var (
	// ErrMalformed marks a body that is not JSON, or JSON of no shape the ingest knows.
	ErrMalformed = errors.New("malformed event")
	// ErrInvalid marks a known shape with a missing or wrongly typed field.
	ErrInvalid = errors.New("invalid event")
)

// topicPrefix starts every conversation topic:
// v2.detail.events.conversation.{conversationId}.{kind}.
const topicPrefix = "v2.detail.events.conversation."

// validID bounds an event id, which becomes the Nats-Msg-Id header: 1 to 200 letters,
// digits and _:.@/+=-.
func validID(s string) bool {
	return validChars(s, 200, "_:.@/+=-")
}

// validToken bounds an id that becomes one NATS subject token: 1 to 128 letters, digits,
// _ and -. No dots, spaces or wildcards.
func validToken(s string) bool {
	return validChars(s, 128, "_-")
}

// validChars is a hand-written [A-Za-z0-9<extra>]{1,max}: it runs on every request, where
// a regular expression cost a measurable share of the ingest's time.
func validChars(s string, max int, extra string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			strings.IndexByte(extra, c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// Normalize decodes a request body in any of the three accepted shapes into the normalized
// event. webhookID is the webhook-id header, empty when absent; received is the receipt
// time. Errors wrap ErrMalformed or ErrInvalid and name the field at fault.
func Normalize(body []byte, webhookID string, received time.Time) (*event.Event, error) {
	ev, _, err := normalize(body, webhookID, received)
	return ev, err
}

// normalize is Normalize that also reports whether the event id is the sender's own
// (webhook-id, EventBridge id, eventId or CorrelationId) rather than the identity hash:
// only a sender's id can be reused for a different event.
func normalize(body []byte, webhookID string, received time.Time) (*event.Event, bool, error) {
	if !utf8.Valid(body) {
		return nil, false, fmt.Errorf("%w: body is not valid UTF-8", ErrMalformed)
	}
	top, err := decodeObject(body)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err, len(body)))
	}
	var ev *event.Event
	switch {
	case top.has("detail-type") && top.has("detail"):
		ev, err = fromEventBridge(top)
	case top.has("topicName") || top.has("eventBody"):
		ev, err = fromNotification(top)
	case top.has("conversationId"):
		ev, err = fromFlat(top)
	default:
		return nil, false, fmt.Errorf("%w: unknown envelope: expected a notification "+
			"(topicName, eventBody), an EventBridge event (detail-type, detail) or a flat "+
			"event (conversationId)", ErrMalformed)
	}
	if err != nil {
		return nil, false, err
	}
	// Whitespace around the JSON value is not part of it and would not survive the
	// stream's encoding. Set before finish, which may hash it into the id.
	ev.Raw = bytes.TrimSpace(body)
	senderID, err := finish(ev, webhookID, received)
	if err != nil {
		return nil, false, err
	}
	return ev, senderID, nil
}

func fromNotification(top object) (*event.Event, error) {
	topic, err := stringField(top, "topicName", true)
	if err != nil {
		return nil, err
	}
	body, err := objectField(top, "eventBody")
	if err != nil {
		return nil, err
	}
	ev := &event.Event{Source: event.SourceNotification, Type: topicKind(topic)}
	if ev.Type == "" {
		return nil, fmt.Errorf("%w: topicName %q is not a conversation topic", ErrInvalid, topic)
	}
	if err := fromBody(ev, body); err != nil {
		return nil, err
	}
	if meta, ok := top.get("metadata"); ok {
		if m, err := parseObject(meta); err == nil {
			if cid, err := stringField(m, "CorrelationId", false); err == nil && cid != "" {
				// One correlation id can cover several topics of one change: pair it with
				// the topic kind so each stays its own event.
				ev.ID = cid + ":" + ev.Type
			}
		}
	}
	return ev, nil
}

func fromEventBridge(top object) (*event.Event, error) {
	detail, err := objectField(top, "detail")
	if err != nil {
		return nil, err
	}
	inner, err := fromNotification(detail)
	if err != nil {
		return nil, err
	}
	inner.Source = event.SourceEventBridge
	id, err := stringField(top, "id", false)
	if err != nil {
		return nil, err
	}
	if id != "" {
		inner.ID = id
	}
	if inner.EventTime.IsZero() {
		if inner.EventTime, err = timeField(top, "time"); err != nil {
			return nil, err
		}
	}
	return inner, nil
}

func fromFlat(top object) (*event.Event, error) {
	ev := &event.Event{Source: event.SourceFlat}
	var err error
	if ev.Type, err = stringField(top, "eventType", false); err != nil {
		return nil, err
	}
	if ev.Type == "" {
		return nil, fmt.Errorf("%w: eventType is required in a flat event", ErrInvalid)
	}
	if ev.ID, err = stringField(top, "eventId", false); err != nil {
		return nil, err
	}
	if err := fromBody(ev, top); err != nil {
		return nil, err
	}
	if ev.EventTime.IsZero() {
		if ev.EventTime, err = timeField(top, "occurredAt"); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// fromBody takes the identity fields and the scalar fields from an event body.
func fromBody(ev *event.Event, body object) error {
	var err error
	if ev.ConversationID, err = stringField(body, "conversationId", true); err != nil {
		return err
	}
	if ev.ParticipantID, err = stringField(body, "participantId", false); err != nil {
		return err
	}
	if ev.EventTime, err = timeField(body, "eventTime"); err != nil {
		return err
	}
	ev.Fields = scalars(body)
	return nil
}

// finish checks the identifiers and settles the event id. It reports whether the id is
// the sender's own rather than the identity hash.
func finish(ev *event.Event, webhookID string, received time.Time) (bool, error) {
	if !validToken(ev.ConversationID) {
		return false, fmt.Errorf("%w: conversationId must be 1 to 128 letters, digits, - or _",
			ErrInvalid)
	}
	if ev.ParticipantID != "" && !validToken(ev.ParticipantID) {
		return false, fmt.Errorf("%w: participantId must be 1 to 128 letters, digits, - or _",
			ErrInvalid)
	}
	ev.ReceivedAt = received.UTC()
	if webhookID != "" {
		ev.ID = webhookID
	}
	senderID := ev.ID != ""
	if !senderID {
		// Hash before the receipt time stands in for a missing event time: a retry
		// arrives at another time and would otherwise get another id.
		ev.ID = identityHash(ev)
	}
	if ev.EventTime.IsZero() {
		ev.EventTime = ev.ReceivedAt
	}
	if !validID(ev.ID) {
		return false, fmt.Errorf("%w: event id (webhook-id, id, eventId or CorrelationId) "+
			"must be 1 to 200 characters of letters, digits and _:.@/+=-", ErrInvalid)
	}
	return senderID, nil
}

// identityHash names an event that carries no id of its own by what it says happened, so
// a sender's retry of the same event gets the same id: its type, conversation,
// participant and event time. An event without a time of its own is told apart from
// others of the same type and participant only by its content, so the SHA-256 of its raw
// body stands in for the time; a retry of the same bytes then gets the same id.
func identityHash(ev *event.Event) string {
	last := strconv.FormatInt(ev.EventTime.UnixMilli(), 10)
	if ev.EventTime.IsZero() {
		// The "body:" prefix keeps this part from ever equalling a time's digits.
		sum := sha256.Sum256(ev.Raw)
		last = "body:" + hex.EncodeToString(sum[:])
	}
	h := sha256.New()
	for _, part := range []string{ev.Type, ev.ConversationID, ev.ParticipantID, last} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}

func topicKind(topic string) string {
	rest, ok := strings.CutPrefix(topic, topicPrefix)
	if !ok {
		return ""
	}
	_, kind, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	return kind
}

func decodeObject(data []byte) (object, error) {
	if !json.Valid(data) {
		// Decode again only to learn where the body goes wrong.
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return nil, errors.New("invalid JSON")
	}
	return parseObject(data)
}

// jsonProblem says what is wrong with a body without echoing the body itself.
func jsonProblem(err error, size int) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn) && syn.Offset >= int64(size):
		return "the body ends before its JSON value does"
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return "the body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends before its JSON value does"
	}
	return err.Error()
}

func stringField(m object, key string, required bool) (string, error) {
	raw, ok := m.get(key)
	if !ok || isNull(raw) {
		if required {
			return "", fmt.Errorf("%w: %s is required", ErrInvalid, key)
		}
		return "", nil
	}
	if raw[0] != '"' {
		return "", fmt.Errorf("%w: %s must be a string", ErrInvalid, key)
	}
	s := unquote(raw)
	if required && s == "" {
		return "", fmt.Errorf("%w: %s is required", ErrInvalid, key)
	}
	return s, nil
}

func objectField(m object, key string) (object, error) {
	raw, ok := m.get(key)
	if !ok {
		return nil, fmt.Errorf("%w: %s is required", ErrInvalid, key)
	}
	obj, err := parseObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s must be an object", ErrInvalid, key)
	}
	return obj, nil
}

// timeField reads epoch milliseconds (a number, as Genesys sends eventTime) or an RFC 3339
// string. Absent is the zero time.
func timeField(m object, key string) (time.Time, error) {
	raw, ok := m.get(key)
	if !ok || isNull(raw) {
		return time.Time{}, nil
	}
	if raw[0] == '"' {
		if t, err := time.Parse(time.RFC3339Nano, unquote(raw)); err == nil {
			return t.UTC(), nil
		}
		return time.Time{}, fmt.Errorf("%w: %s must be epoch milliseconds or an RFC 3339 time",
			ErrInvalid, key)
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	// Bounds keep the value a plausible time: years 2000 to 2200.
	if err != nil || ms < 946684800000 || ms > 7258118400000 {
		return time.Time{}, fmt.Errorf("%w: %s must be epoch milliseconds or an RFC 3339 time",
			ErrInvalid, key)
	}
	return time.UnixMilli(ms).UTC(), nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// scalars keeps the body's strings, numbers and booleans; objects, arrays and nulls are
// left in the raw body.
func scalars(body object) map[string]string {
	out := make(map[string]string, len(body))
	for _, m := range body {
		raw := m.val
		if len(raw) == 0 {
			continue
		}
		switch c := raw[0]; {
		case c == '"':
			out[m.key] = unquote(raw)
		case c == '-' || (c >= '0' && c <= '9'), string(raw) == "true", string(raw) == "false":
			out[m.key] = string(raw)
		}
	}
	return out
}
