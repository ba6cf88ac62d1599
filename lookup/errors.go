package lookup

import (
	"errors"
	"fmt"
)

// ErrTransient marks a lookup that failed because the store was down, slow or refused the
// request: the same event may succeed later, so the caller retries it.
var ErrTransient = errors.New("lookup store unavailable")

// ErrPermanent marks a record the mapping cannot use (malformed JSON, a field holding an
// object, a key of the wrong Redis type): retrying reads the same bad data, so the caller
// dead-letters the event. The message names the key's template and the field, never the
// key itself, which may hold a phone number.
var ErrPermanent = errors.New("bad record in lookup store")

// badRecordError is how a store reports data it cannot turn into a record. The service
// adds the source and the key's template and wraps it in ErrPermanent.
type badRecordError struct {
	// field is the record field at fault; empty when the whole value is.
	field  string
	reason string
}

func (e *badRecordError) Error() string {
	if e.field == "" {
		return e.reason
	}
	return fmt.Sprintf("field %q: %s", e.field, e.reason)
}

// classify turns a store's error into one of the two outcomes callers branch on.
func classify(source, keyTemplate string, err error) error {
	if bad, ok := errors.AsType[*badRecordError](err); ok {
		return fmt.Errorf("%w: %s key template %q: %w", ErrPermanent, source, keyTemplate, bad)
	}
	return fmt.Errorf("%w: %s key template %q: %w", ErrTransient, source, keyTemplate, err)
}
