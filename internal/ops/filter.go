package ops

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scriptsync/scriptsync/event"
)

// Reasons lists every dead-letter reason, in the order the documentation gives them.
var Reasons = []string{
	event.ReasonNotReady, event.ReasonTransient, event.ReasonAuth, event.ReasonPermission,
	event.ReasonPermanent, event.ReasonBadData, event.ReasonUndecodable,
	event.ReasonMaxDeliveries,
}

// Filter selects dead-letter entries. Every field that is set must match; the zero Filter
// selects every entry.
type Filter struct {
	// Reason is one of Reasons.
	Reason string `json:"reason,omitempty"`
	// ConversationID is the Genesys conversation id of the entry's event.
	ConversationID string `json:"conversation_id,omitempty"`
	// Since and Until bound the time the entry was stored, that is when the worker gave
	// up: Since inclusive, Until exclusive.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Sequences limits the selection to these dead-letter stream sequences.
	Sequences []uint64 `json:"sequences,omitempty"`
}

// IsZero reports whether the filter selects every entry.
func (f Filter) IsZero() bool {
	return f.Reason == "" && f.ConversationID == "" && f.Since.IsZero() && f.Until.IsZero() &&
		len(f.Sequences) == 0
}

// Validate says what is wrong with the filter, naming the field.
func (f Filter) Validate() error {
	var errs []error
	if f.Reason != "" && !slices.Contains(Reasons, f.Reason) {
		errs = append(errs, fmt.Errorf("reason %q is not one of %s", f.Reason,
			strings.Join(Reasons, ", ")))
	}
	if err := checkToken("conversation", f.ConversationID); err != nil {
		errs = append(errs, err)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs = append(errs, errors.New("until must be after since"))
	}
	if slices.Contains(f.Sequences, 0) {
		errs = append(errs, errors.New("sequences start at 1"))
	}
	return errors.Join(errs...)
}

// subject is the subject filter for the entries: <prefix>.<reason>.<conversation id> with a
// wildcard for each part the filter leaves open.
func (f Filter) subject(prefix string) string {
	return prefix + "." + orStar(f.Reason) + "." + orStar(f.ConversationID)
}

// matches checks what the subject filter cannot: the time range.
func (f Filter) matches(stored time.Time) bool {
	return inRange(stored, f.Since, f.Until)
}

// sequences returns the filter's sequences sorted, without repeats.
func (f Filter) sequences() []uint64 {
	seqs := slices.Clone(f.Sequences)
	slices.Sort(seqs)
	return slices.Compact(seqs)
}

// checkToken refuses a value that cannot stand as one subject token: it would widen or
// break the subject filter it is put in.
func checkToken(name, v string) error {
	if strings.ContainsAny(v, ".*> \t\r\n") {
		return fmt.Errorf("%s %q may not hold dots, wildcards or spaces", name, v)
	}
	return nil
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func inRange(t, since, until time.Time) bool {
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
}
