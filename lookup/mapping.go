package lookup

import (
	"fmt"
	"strings"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
)

// mapping turns a record and its event into Genesys attribute values.
type mapping struct {
	// entries is empty when records pass through under their own field names.
	entries []attrEntry
	// fields is what the entries read from records; nil when records pass through.
	fields fieldSet
}

// attrEntry is one compiled lookup.attributes entry. Exactly one of field, value, ev and
// format is the value's origin.
type attrEntry struct {
	name      string
	field     string
	value     string
	ev        eventField
	format    *template
	transform func(string) string
	def       string
}

// compileMapping checks every entry against the known fields and prepares it.
func compileMapping(attrs []config.LookupAttribute, c *compiler) (*mapping, error) {
	if len(attrs) == 0 {
		return &mapping{}, nil
	}
	m := &mapping{fields: fieldSet{}}
	seen := make(map[string]bool, len(attrs))
	for i, a := range attrs {
		path := fmt.Sprintf("lookup.attributes[%d]", i)
		if a.Name == "" {
			return nil, fmt.Errorf("%s.name: required", path)
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("%s.name: %q is mapped twice", path, a.Name)
		}
		seen[a.Name] = true
		e, err := compileEntry(path, a, c)
		if err != nil {
			return nil, err
		}
		if e.field != "" {
			m.fields[e.field] = true
		}
		if e.format != nil {
			for _, s := range e.format.segs {
				if s.field != "" {
					m.fields[s.field] = true
				}
			}
		}
		m.entries = append(m.entries, e)
	}
	return m, nil
}

func compileEntry(path string, a config.LookupAttribute, c *compiler) (attrEntry, error) {
	e := attrEntry{name: a.Name, value: a.Value, def: a.Default}
	set := 0
	for _, s := range []string{a.Field, a.Value, a.Event, a.Format} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return e, fmt.Errorf("%s: set exactly one of field, value, event, format (attribute %q)",
			path, a.Name)
	}
	switch a.Transform {
	case "":
	case "upper":
		e.transform = strings.ToUpper
	case "lower":
		e.transform = strings.ToLower
	default:
		return e, fmt.Errorf("%s.transform: %q is not upper or lower", path, a.Transform)
	}
	var err error
	switch {
	case a.Field != "":
		if !c.records[a.Field] {
			return e, fmt.Errorf("%s.field: unknown record field %q (not in "+
				"lookup.record_fields)", path, a.Field)
		}
		e.field = a.Field
	case a.Event != "":
		e.ev, err = c.event(strings.TrimPrefix(a.Event, "event."))
		if err != nil {
			err = fmt.Errorf("%s.event: %w", path, err)
		}
	case a.Format != "":
		e.format, err = c.compile(path+".format", a.Format, scopeRecord)
	}
	return e, err
}

// fromRecord reports whether the entry's value depends on the record.
func (e *attrEntry) fromRecord() bool {
	return e.field != "" || (e.format != nil && e.format.recordRefs > 0)
}

// apply builds the attributes for a record; rec nil stands for "no record", which gives
// each record-derived entry its default and the others their usual value.
func (m *mapping) apply(ev *event.Event, rec map[string]string) map[string]string {
	if m.entries == nil {
		out := make(map[string]string, len(rec))
		for k, v := range rec {
			if v != "" {
				out[k] = v
			}
		}
		return out
	}
	out := make(map[string]string, len(m.entries))
	for i := range m.entries {
		e := &m.entries[i]
		if v := e.eval(ev, rec); v != "" {
			out[e.name] = v
		}
	}
	return out
}

func (e *attrEntry) eval(ev *event.Event, rec map[string]string) string {
	var v string
	switch {
	case e.field != "":
		v = rec[e.field]
	case e.ev != nil:
		v = e.ev(ev)
	case e.format != nil:
		var r rendering
		v, r = e.format.render(ev, rec, false)
		if e.format.recordRefs > 0 && r.recordSet == 0 {
			// Every record field it names is empty: the text around them alone would be
			// noise such as " ()".
			v = ""
		}
	default:
		v = e.value
	}
	if e.transform != nil {
		v = e.transform(v)
	}
	if v == "" {
		return e.def
	}
	return v
}

// hasDefaults reports whether applying to no record writes anything.
func (m *mapping) hasDefaults() bool {
	for i := range m.entries {
		if e := &m.entries[i]; e.def != "" || !e.fromRecord() {
			return true
		}
	}
	return false
}
