package genesys

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// checkAttributes refuses a write Genesys would refuse or mangle, before spending a call
// on it. The limits are the ones documented for bot flows, the only ones Genesys documents
// for participant data; the API may accept more, but nothing promises it.
func (c *Client) checkAttributes(attrs map[string]string) error {
	if n, limit := len(attrs), c.cfg.MaxAttributes; n > limit {
		return &InvalidError{Reason: fmt.Sprintf("%d attributes, the limit is %d", n, limit)}
	}
	// Walk the names in order so that the same write always reports the same attribute.
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if reason := c.checkAttribute(name, attrs[name]); reason != "" {
			return &InvalidError{Attribute: name, Reason: reason}
		}
	}
	return nil
}

func (c *Client) checkAttribute(name, value string) string {
	switch {
	case name == "":
		return "the name is empty"
	case !utf8.ValidString(name):
		return "the name is not valid UTF-8"
	case !utf8.ValidString(value):
		// JSON encoding would silently replace the bad bytes.
		return "the value is not valid UTF-8"
	}
	if n := utf8.RuneCountInString(value); n > c.cfg.MaxValueLength {
		return fmt.Sprintf("the value is %d characters, the limit is %d", n, c.cfg.MaxValueLength)
	}
	return ""
}
