package lookup

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/scriptsync/scriptsync/event"
)

// Templates are literal text with {{name}} or {{name|filter|...}} placeholders. The syntax
// is deliberately smaller than text/template: no logic, nothing to escape, and every name
// is resolved when the lookup starts, so a misspelt field is a start-up error naming it
// rather than an empty key on every event. A literal "{{" cannot be written.

// filters are the transforms a placeholder may apply, left to right.
var filters = map[string]func(string) string{
	"upper":  strings.ToUpper,
	"lower":  strings.ToLower,
	"trim":   strings.TrimSpace,
	"digits": keepDigits,
	"e164":   normalizePhone,
}

// placeholder is one {{...}} as written, before its name is resolved.
type placeholder struct {
	name    string
	filters []func(string) string
}

// rawSegment is literal text, or a placeholder when ph is set.
type rawSegment struct {
	lit string
	ph  *placeholder
}

// parseTemplate splits src into literal text and placeholders and checks the filters.
func parseTemplate(src string) ([]rawSegment, error) {
	var segs []rawSegment
	rest := src
	for rest != "" {
		open := strings.Index(rest, "{{")
		if open < 0 {
			segs = append(segs, rawSegment{lit: rest})
			break
		}
		if open > 0 {
			segs = append(segs, rawSegment{lit: rest[:open]})
		}
		end := strings.Index(rest[open:], "}}")
		if end < 0 {
			return nil, fmt.Errorf(`unclosed "{{"`)
		}
		ph, err := parsePlaceholder(rest[open+2 : open+end])
		if err != nil {
			return nil, err
		}
		segs = append(segs, rawSegment{ph: ph})
		rest = rest[open+end+2:]
	}
	return segs, nil
}

func parsePlaceholder(body string) (*placeholder, error) {
	parts := strings.Split(body, "|")
	name := strings.TrimSpace(parts[0])
	if name == "" {
		return nil, fmt.Errorf("empty placeholder")
	}
	if strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		return nil, fmt.Errorf("placeholder %q holds spaces", name)
	}
	ph := &placeholder{name: name}
	for _, f := range parts[1:] {
		f = strings.TrimSpace(f)
		fn, ok := filters[f]
		if !ok {
			return nil, fmt.Errorf("unknown filter %q (known: digits, e164, lower, trim, upper)",
				f)
		}
		ph.filters = append(ph.filters, fn)
	}
	return ph, nil
}

// segment is a resolved piece of a template: literal text, an event field, or a record
// field.
type segment struct {
	lit     string
	ev      eventField
	field   string
	filters []func(string) string
}

// template is a parsed template whose names are all known.
type template struct {
	src  string
	segs []segment
	// recordRefs is how many placeholders name a record field.
	recordRefs int
}

// rendering reports what a render found, for the callers' emptiness rules.
type rendering struct {
	// emptyRef is set when any placeholder rendered empty.
	emptyRef bool
	// recordSet counts record-field placeholders that rendered non-empty.
	recordSet int
}

// render fills the template from the event and the record (nil outside a mapping). With
// escape, each placeholder's value is percent-encoded for a URL.
func (t *template) render(ev *event.Event, rec map[string]string, escape bool) (string,
	rendering) {
	var r rendering
	var b strings.Builder
	b.Grow(len(t.src) + 16)
	for i := range t.segs {
		s := &t.segs[i]
		var v string
		switch {
		case s.ev != nil:
			v = s.ev(ev)
		case s.field != "":
			v = rec[s.field]
		default:
			b.WriteString(s.lit)
			continue
		}
		for _, f := range s.filters {
			v = f(v)
		}
		if v == "" {
			r.emptyRef = true
		} else if s.field != "" {
			r.recordSet++
		}
		if escape {
			v = escapeValue(v)
		}
		b.WriteString(v)
	}
	return b.String(), r
}

// escapeValue percent-encodes everything but unreserved characters, which is right both in
// a URL path segment and in a query value, so a template author need not say which.
func escapeValue(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
