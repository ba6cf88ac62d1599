package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/event"
)

// Entry sums up one dead letter without the event's fields, so it can be printed and
// logged: it holds ids, the reason, the error's class and codes, counts and times, and
// never a phone number.
type Entry struct {
	// Sequence is the entry's sequence in the dead-letter stream; it names the entry in
	// show, replay and delete.
	Sequence uint64 `json:"sequence"`
	// StoredAt is when the worker gave up and stored the entry.
	StoredAt time.Time `json:"stored_at"`
	// Reason is one of Reasons; Summary says it in words.
	Reason  string `json:"reason"`
	Summary string `json:"summary,omitempty"`
	// EventID, EventType, ConversationID and ParticipantID come from the event; they are
	// empty for an undecodable message.
	EventID        string `json:"event_id,omitempty"`
	EventType      string `json:"event_type,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	ParticipantID  string `json:"participant_id,omitempty"`
	// EventSequence is the event's sequence in the event stream.
	EventSequence uint64 `json:"event_sequence"`
	// Class, Status, Code and CorrelationID describe the last error; Status, Code and
	// CorrelationID are set when Genesys answered.
	Class         string `json:"class,omitempty"`
	Status        int    `json:"status,omitempty"`
	Code          string `json:"code,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	// Attempts is how many times the event was delivered to a worker, between
	// FirstAttempt and LastAttempt.
	Attempts     int       `json:"attempts"`
	FirstAttempt time.Time `json:"first_attempt"`
	LastAttempt  time.Time `json:"last_attempt"`
	// Undecodable is true when the stored entry is not a dead letter this version can
	// read; only Sequence, StoredAt and Reason are set then.
	Undecodable bool `json:"undecodable,omitempty"`
}

// Detail is one dead letter in full: its summary and the stored entry, event included.
type Detail struct {
	Entry
	// DeadLetter is the stored entry; nil when it could not be decoded.
	DeadLetter *event.DeadLetter `json:"dead_letter,omitempty"`
}

// Page is a list's answer. Next, when not zero, is the sequence to pass as after to read
// the following page.
type Page struct {
	Entries []Entry `json:"entries"`
	Next    uint64  `json:"next,omitempty"`
}

// ListOptions bound a listing.
type ListOptions struct {
	Filter Filter
	// After skips entries up to and including this sequence, for paging.
	After uint64
	// Limit caps the entries returned; 0 means no cap.
	Limit int
}

// List returns the entries the filter selects, oldest first. It reads the stream once,
// by subject filter where the reason or conversation narrow it.
func (s *Service) List(ctx context.Context, o ListOptions) (Page, error) {
	page := Page{Entries: []Entry{}}
	if err := o.Filter.Validate(); err != nil {
		return page, err
	}
	st, _, err := s.deadStream(ctx)
	if err != nil {
		return page, err
	}
	sel := selection{filter: o.Filter, after: o.After}
	err = s.eachEntry(ctx, st, sel, func(d Detail) error {
		if o.Limit > 0 && len(page.Entries) == o.Limit {
			page.Next = page.Entries[len(page.Entries)-1].Sequence
			return errStop
		}
		page.Entries = append(page.Entries, d.Entry)
		return nil
	})
	return page, err
}

// Count returns how many entries the filter selects.
func (s *Service) Count(ctx context.Context, f Filter) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	st, ok, err := s.deadStream(ctx)
	if err != nil || !ok {
		return 0, err
	}
	if f.IsZero() {
		info, err := st.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream info: %w", err)
		}
		return int(info.State.Msgs), nil //nolint:gosec // a message count fits an int
	}
	n := 0
	err = s.eachEntry(ctx, st, selection{filter: f}, func(Detail) error {
		n++
		return nil
	})
	return n, err
}

// Show returns the entry at seq, or ErrNotFound.
func (s *Service) Show(ctx context.Context, seq uint64) (*Detail, error) {
	st, ok, err := s.deadStream(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("dead letter %d: %w", seq, ErrNotFound)
	}
	m, found, err := getMsg(ctx, st, seq)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("dead letter %d: %w", seq, ErrNotFound)
	}
	d := decode(m)
	return &d, nil
}

// selection is what eachEntry visits: the filter's entries after a sequence. total, when
// set, receives the number selected by subject (or listed) before the other checks;
// missing, when set, each listed sequence the stream does not hold.
type selection struct {
	filter  Filter
	after   uint64
	total   func(uint64)
	missing func(uint64)
}

// eachEntry calls fn with every selected entry, in stream order: the listed sequences one
// by one when the filter names some, else a walk of the stream.
// A nil st stands for a dead-letter stream that does not exist yet.
func (s *Service) eachEntry(ctx context.Context, st jetstream.Stream, sel selection,
	fn func(Detail) error) error {
	if st == nil {
		for _, seq := range sel.filter.sequences() {
			sel.noteMissing(seq)
		}
		return nil
	}
	if len(sel.filter.Sequences) > 0 {
		return s.eachListed(ctx, st, sel, fn)
	}
	f := sel.filter
	spec := walkSpec{subject: f.subject(s.dead.SubjectPrefix), since: f.Since, until: f.Until,
		after: sel.after}
	return walk(ctx, st, spec, sel.total, func(m stored) error {
		return fn(decode(m))
	})
}

func (s *Service) eachListed(ctx context.Context, st jetstream.Stream, sel selection,
	fn func(Detail) error) error {
	f := sel.filter
	subject := f.subject(s.dead.SubjectPrefix)
	seqs := f.sequences()
	if sel.total != nil {
		sel.total(uint64(len(seqs)))
	}
	for _, seq := range seqs {
		if seq <= sel.after {
			continue
		}
		m, found, err := getMsg(ctx, st, seq)
		if err != nil {
			return err
		}
		if !found {
			sel.noteMissing(seq)
			continue
		}
		if !subjectMatches(subject, m.subject) || !f.matches(m.time) {
			continue
		}
		if err := fn(decode(m)); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (sel selection) noteMissing(seq uint64) {
	if sel.missing != nil {
		sel.missing(seq)
	}
}

// decode reads a stored entry. One that does not decode is still listed, by sequence and
// the reason its subject carries, so it can be found and deleted.
func decode(m stored) Detail {
	d := Detail{Entry: Entry{Sequence: m.seq, StoredAt: m.time.UTC()}}
	dl, err := event.UnmarshalDeadLetter(m.data)
	if err != nil {
		d.Undecodable = true
		d.Reason = reasonFromSubject(m.subject)
		return d
	}
	d.DeadLetter = dl
	e := &d.Entry
	e.Reason, e.Summary, e.EventSequence = dl.Reason, dl.Summary, dl.StreamSequence
	e.Class, e.Status, e.Code = dl.Error.Class, dl.Error.Status, dl.Error.Code
	e.CorrelationID, e.Attempts = dl.Error.CorrelationID, dl.Attempts
	e.FirstAttempt, e.LastAttempt = dl.FirstAttempt, dl.LastAttempt
	if ev := dl.Event; ev != nil {
		e.EventID, e.EventType = ev.ID, ev.Type
		e.ConversationID, e.ParticipantID = ev.ConversationID, ev.ParticipantID
	}
	return d
}

// reasonFromSubject takes the reason token of <prefix>.<reason>.<conversation id>.
func reasonFromSubject(subject string) string {
	tokens := strings.Split(subject, ".")
	if len(tokens) < 3 {
		return ""
	}
	return tokens[len(tokens)-2]
}
