package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The ingest reads each body once with a validating pass (json.Valid) and then walks only
// the object levels it needs, taking values as raw byte ranges. Decoding the same bodies
// with encoding/json into maps cost the ingest about half of its throughput in the load
// benchmark; this walker trusts that the validating pass has run and so stays small.

// member is one key of a JSON object with its raw value.
type member struct {
	key string
	val []byte
}

// object is a JSON object's members in document order.
type object []member

// get returns the value of key; with repeated keys the last one wins, as in encoding/json.
func (o object) get(key string) ([]byte, bool) {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].key == key {
			return o[i].val, true
		}
	}
	return nil, false
}

func (o object) has(key string) bool {
	_, ok := o.get(key)
	return ok
}

var errNotObject = errors.New("the body must be a JSON object")

// parseObject splits a JSON object into its members. data must already be valid JSON.
func parseObject(data []byte) (object, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, errNotObject
	}
	obj := make(object, 0, 16)
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return obj, nil
	}
	for i < len(data) {
		end := scanString(data, i)
		key := unquote(data[i:end])
		i = skipSpace(data, end)
		i = skipSpace(data, i+1) // the colon
		vend := scanValue(data, i)
		obj = append(obj, member{key: key, val: data[i:vend]})
		i = skipSpace(data, vend)
		if i >= len(data) || data[i] == '}' {
			break
		}
		i = skipSpace(data, i+1) // the comma
	}
	return obj, nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index just past the string starting at data[i] == '"'.
func scanString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// scanValue returns the index just past the value starting at data[i].
func scanValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return scanString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = scanString(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(data)
	}
	for j := i; j < len(data); j++ {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
	}
	return len(data)
}

// unquote decodes a JSON string literal; one without escapes is copied as it is.
func unquote(raw []byte) string {
	if len(raw) < 2 {
		return ""
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}
