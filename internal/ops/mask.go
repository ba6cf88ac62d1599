package ops

import (
	"strings"

	"github.com/scriptsync/scriptsync/event"
)

// phoneFields are the event fields Genesys and the common relay shapes use for phone
// numbers.
var phoneFields = map[string]bool{"ani": true, "dnis": true, "addressFrom": true,
	"addressTo": true}

// Masked returns a copy of the entry safe to print: the event's phone fields (ani, dnis,
// addressFrom, addressTo, any field named like *phone*, and any other field whose value
// reads as a phone number) keep only their last two characters, and
// the raw request body and an undecodable message's bytes, which hold the same numbers,
// are left out.
func Masked(d *event.DeadLetter) *event.DeadLetter {
	if d == nil {
		return nil
	}
	out := *d
	out.Undecodable = nil
	if d.Event != nil {
		ev := *d.Event
		ev.Raw = nil
		if len(ev.Fields) > 0 {
			ev.Fields = make(map[string]string, len(d.Event.Fields))
			for k, v := range d.Event.Fields {
				if isPhoneField(k) || looksLikePhone(v) {
					v = maskValue(v)
				}
				ev.Fields[k] = v
			}
		}
		out.Event = &ev
	}
	return &out
}

func isPhoneField(name string) bool {
	return phoneFields[name] || strings.Contains(strings.ToLower(name), "phone")
}

// maskValue keeps the last two characters of a value and stars the rest.
func maskValue(v string) string {
	r := []rune(v)
	if len(r) <= 2 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-2) + string(r[len(r)-2:])
}

// looksLikePhone reports a tel: or sip: address, or a number in international form: a +
// then seven to fifteen digits, with only the separators phone numbers are written with.
// A bare run of digits is not taken for one: epoch times and counts look the same.
func looksLikePhone(v string) bool {
	lower := strings.ToLower(strings.TrimSpace(v))
	if strings.HasPrefix(lower, "tel:") || strings.HasPrefix(lower, "sip:") ||
		strings.HasPrefix(lower, "sips:") {
		return true
	}
	rest, ok := strings.CutPrefix(lower, "+")
	if !ok {
		return false
	}
	digits := 0
	for _, c := range rest {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case strings.ContainsRune("+ -.()", c):
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}
