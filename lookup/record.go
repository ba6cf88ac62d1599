package lookup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// fieldSet names the record fields the mapping reads; nil means every field (the mapping
// passes records through). Values of other fields are never inspected, so a field the
// mapping ignores cannot turn a record into a bad one.
type fieldSet map[string]bool

func (s fieldSet) wants(name string) bool {
	return s == nil || s[name]
}

// decodeJSONRecord turns a JSON object into a record. Scalars keep their JSON text
// (numbers exactly as written), null reads as absent, and a list of scalars is joined
// with commas; an object, or a list holding one, is bad data.
func decodeJSONRecord(data []byte, want fieldSet) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, &badRecordError{reason: jsonReason(err)}
	}
	rec := make(map[string]string, len(raw))
	for name, v := range raw {
		if !want.wants(name) {
			continue
		}
		s, err := jsonScalar(v)
		if err != nil {
			return nil, &badRecordError{field: name, reason: err.Error()}
		}
		if s != "" {
			rec[name] = s
		}
	}
	return rec, nil
}

// jsonReason says what is wrong without quoting the data, which may be personal.
func jsonReason(err error) string {
	if syn, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	}
	if typ, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf("JSON %s where an object was expected", typ.Value)
	}
	return "malformed JSON"
}

func jsonScalar(v json.RawMessage) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	switch v[0] {
	case '"':
		if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
			// No escapes: the text between the quotes is the value; skip the decoder.
			return string(v[1 : len(v)-1]), nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("bad string: %s", jsonReason(err))
		}
		return s, nil
	case 'n':
		return "", nil
	case '{':
		return "", fmt.Errorf("holds an object where a scalar was expected")
	case '[':
		return jsonList(v)
	}
	return string(v), nil
}

func jsonList(v json.RawMessage) (string, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return "", fmt.Errorf("bad list: %s", jsonReason(err))
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if len(it) > 0 && (it[0] == '{' || it[0] == '[') {
			return "", fmt.Errorf("holds a list of objects or lists where scalars were expected")
		}
		s, err := jsonScalar(it)
		if err != nil {
			return "", err
		}
		out = append(out, s)
	}
	return strings.Join(out, ","), nil
}
