package event

import (
	"time"
	"unicode/utf8"
)

// The ingest encodes every event it stores, so the encoding is written out by hand: the
// reflective encoder spent most of its time re-validating and compacting Raw, which the
// ingest has already validated. Unmarshal reads the result with encoding/json.

// Marshal encodes the event for the stream. Raw must be valid JSON (the ingest checks it
// before building the event); it is copied as it is.
func (e *Event) Marshal() ([]byte, error) {
	b := make([]byte, 0, 256+len(e.Raw)+fieldsSize(e.Fields))
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"conversation_id":`...)
	b = appendString(b, e.ConversationID)
	if e.ParticipantID != "" {
		b = append(b, `,"participant_id":`...)
		b = appendString(b, e.ParticipantID)
	}
	b = append(b, `,"event_time":"`...)
	b = e.EventTime.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","received_at":"`...)
	b = e.ReceivedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","source":`...)
	b = appendString(b, string(e.Source))
	if len(e.Fields) > 0 {
		b = append(b, `,"fields":{`...)
		first := true
		for k, v := range e.Fields {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, v)
		}
		b = append(b, '}')
	}
	if len(e.Raw) > 0 {
		b = append(b, `,"raw":`...)
		b = append(b, e.Raw...)
	}
	return append(b, '}'), nil
}

func fieldsSize(f map[string]string) int {
	n := 0
	for k, v := range f {
		n += len(k) + len(v) + 6
	}
	return n
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as with
// encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
