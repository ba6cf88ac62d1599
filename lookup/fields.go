package lookup

import (
	"fmt"
	"slices"
	"strings"

	"github.com/scriptsync/scriptsync/event"
)

// eventField reads one value from an event.
type eventField func(ev *event.Event) string

// bodyFields are the event body's scalar fields that Genesys conversation events and the
// common flat relay shape carry. Config's lookup.event_fields adds others.
var bodyFields = []string{
	"addressFrom", "addressTo", "ani", "conversationId", "direction", "divisionId", "dnis",
	"eventId", "eventTime", "eventType", "externalContactId", "externalOrganizationId",
	"mediaType", "occurredAt", "participantId", "provider", "queueId", "scriptId",
	"sessionId", "stepId", "userId",
}

// phoneFields hold phone numbers: they read as E.164 everywhere, so one record serves an
// event whatever prefix or separators its sender used.
var phoneFields = map[string]bool{"ani": true, "dnis": true, "addressFrom": true,
	"addressTo": true}

// eventFieldNames lists every name a template may use for an event field.
func eventFieldNames(extra []string) []string {
	names := append([]string{"id", "type"}, bodyFields...)
	names = append(names, extra...)
	slices.Sort(names)
	return slices.Compact(names)
}

// eventAccessor returns how to read the named field. The normalized event's own fields win
// over the body's: they are set whatever envelope the event came in.
func eventAccessor(name string) eventField {
	switch name {
	case "id":
		return func(ev *event.Event) string { return ev.ID }
	case "type":
		return func(ev *event.Event) string { return ev.Type }
	case "conversationId":
		return func(ev *event.Event) string { return ev.ConversationID }
	case "participantId":
		return func(ev *event.Event) string {
			if ev.ParticipantID != "" {
				return ev.ParticipantID
			}
			return ev.Fields["participantId"]
		}
	case "eventTime":
		// Envelopes disagree (epoch milliseconds, RFC 3339); the normalized time does not.
		return func(ev *event.Event) string {
			if ev.EventTime.IsZero() {
				return ""
			}
			return ev.EventTime.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		}
	}
	if phoneFields[name] {
		return func(ev *event.Event) string { return normalizePhone(ev.Fields[name]) }
	}
	return func(ev *event.Event) string { return ev.Fields[name] }
}

// normalizePhone turns tel:+1 415-555-0123, sip:+14155550123@host and +14155550123 into
// +14155550123. A value that is not a phone number (a chat address, say) is returned
// trimmed but otherwise unchanged; a number without + keeps its digits, since guessing a
// country code would match the wrong record.
func normalizePhone(s string) string {
	s = strings.TrimSpace(s)
	v := s
	switch {
	case hasPrefixFold(v, "tel:"):
		v = v[4:]
	case hasPrefixFold(v, "sip:"), hasPrefixFold(v, "sips:"):
		v = v[strings.IndexByte(v, ':')+1:]
		at := strings.IndexByte(v, '@')
		if at < 0 {
			return s
		}
		v = v[:at]
	}
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	if isPlainNumber(v) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9', c == '+' && b.Len() == 0:
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return s
		}
	}
	if n := b.String(); isPlainNumber(n) {
		return n
	}
	return s
}

// isPlainNumber reports digits with an optional leading +, at least one digit.
func isPlainNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func keepDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// compiler resolves template names against the fields the configuration makes known.
type compiler struct {
	eventNames []string
	events     map[string]bool
	records    map[string]bool
}

func newCompiler(extraEvent, recordFields []string) *compiler {
	c := &compiler{
		eventNames: eventFieldNames(extraEvent),
		events:     map[string]bool{},
		records:    map[string]bool{},
	}
	for _, n := range c.eventNames {
		c.events[n] = true
	}
	for _, n := range recordFields {
		c.records[n] = true
	}
	return c
}

// scope says what a bare name in a template means.
type scope int

const (
	// scopeEvent: bare names are event fields (key templates; there is no record yet).
	scopeEvent scope = iota
	// scopeRecord: bare names are record fields; event fields are written event.name.
	scopeRecord
)

// compile parses src and resolves its names. setting is the YAML path used in errors.
func (c *compiler) compile(setting, src string, sc scope) (*template, error) {
	raw, err := parseTemplate(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", setting, src, err)
	}
	t := &template{src: src}
	for _, r := range raw {
		if r.ph == nil {
			t.segs = append(t.segs, segment{lit: r.lit})
			continue
		}
		seg, err := c.resolve(r.ph, sc)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", setting, src, err)
		}
		if seg.field != "" {
			t.recordRefs++
		}
		t.segs = append(t.segs, seg)
	}
	return t, nil
}

func (c *compiler) resolve(ph *placeholder, sc scope) (segment, error) {
	name, isEvent := strings.CutPrefix(ph.name, "event.")
	if isEvent || sc == scopeEvent {
		ev, err := c.event(name)
		return segment{ev: ev, filters: ph.filters}, err
	}
	if !c.records[name] {
		return segment{}, fmt.Errorf("unknown record field %q (not in lookup.record_fields; "+
			"write event fields as {{event.name}})", name)
	}
	return segment{field: name, filters: ph.filters}, nil
}

// event resolves an event field name, or says which names exist.
func (c *compiler) event(name string) (eventField, error) {
	if !c.events[name] {
		return nil, fmt.Errorf("unknown event field %q (known: %s; add others with "+
			"lookup.event_fields)", name, strings.Join(c.eventNames, ", "))
	}
	return eventAccessor(name), nil
}
