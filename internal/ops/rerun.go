package ops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/event"
)

// RerunFilter selects events of the event stream to run again. Every field that is set
// must match; at least one must be set, or All.
type RerunFilter struct {
	// ConversationID is the Genesys conversation id.
	ConversationID string `json:"conversation_id,omitempty"`
	// Type is the event type (user.start, customer.start, a relay's own type, ...).
	Type string `json:"type,omitempty"`
	// Since and Until bound the time the event was stored: Since inclusive, Until
	// exclusive.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// All selects every event the stream still holds, when no other field is set.
	All bool `json:"all,omitempty"`
}

// Validate says what is wrong with the filter.
func (f RerunFilter) Validate() error {
	open := f.ConversationID == "" && f.Type == "" && f.Since.IsZero() && f.Until.IsZero()
	if open && !f.All {
		return errors.New("choose events by conversation, type or time, or ask for all")
	}
	if err := checkToken("conversation", f.ConversationID); err != nil {
		return err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return errors.New("until must be after since")
	}
	return nil
}

// RerunMsgID is the message id of a re-run event: the original event id, then the unix
// time in seconds of the run. A run repeated within the same second, or an event met
// twice in one run, stores one copy.
func RerunMsgID(eventID, runID string) string {
	return eventID + ":rerun:" + runID
}

// Rerun publishes events the workers have already settled to the event stream again,
// for example after lookup data was corrected: each becomes a new delivery marked with
// event.HeaderReplayOf, with its body unchanged.
//
// It reads the workers' consumer first and publishes only events at or below its
// acknowledgement floor, the stream sequence up to which every event is settled. Events
// above the floor are not yet delivered, still being retried, or settled out of order;
// the consumer does not say which, so all of them are skipped as in flight rather than
// risk a second copy of an event a worker still holds. Events whose dead letter is still
// in the dead-letter stream are skipped too: replay those from there, which also removes
// the entry. Within one run each event id is published once, even when the stream holds
// an earlier replay of the same event.
//
// The run remembers the ids it has published and the stream sequences of dead letters,
// so its memory grows with the number of events it selects.
func (s *Service) Rerun(ctx context.Context, f RerunFilter, o RunOptions) (Result, error) {
	if err := f.Validate(); err != nil {
		return Result{}, err
	}
	r, err := newRunner(o, s.now())
	if err != nil {
		return Result{}, err
	}
	r.res.RunID = strconv.FormatInt(s.now().Unix(), 10)
	if r.res.AckFloor, err = s.ackFloor(ctx); err != nil {
		return r.res, err
	}
	dead, err := s.deadSequences(ctx, f)
	if err != nil {
		return r.res, err
	}
	st, err := s.js.Stream(ctx, s.stream.Name)
	if err != nil {
		return r.res, fmt.Errorf("open stream %s: %w", s.stream.Name, err)
	}
	subject := event.SubjectFilter(s.stream.SubjectPrefix)
	if f.ConversationID != "" {
		subject = s.stream.SubjectPrefix + ".*." + f.ConversationID
	}
	run := &rerun{svc: s, r: r, filter: f, dead: dead, seen: map[string]bool{}}
	spec := walkSpec{subject: subject, since: f.Since, until: f.Until}
	err = walk(ctx, st, spec, r.total, func(m stored) error {
		return run.one(ctx, m)
	})
	return r.finish(err, run.stopped)
}

// rerun is one run's state.
type rerun struct {
	svc     *Service
	r       *runner
	filter  RerunFilter
	dead    map[uint64]bool
	seen    map[string]bool
	stopped bool
}

func (x *rerun) one(ctx context.Context, m stored) error {
	if x.r.overBudget(x.svc.now()) {
		x.stopped = true
		return errStop
	}
	res := &x.r.res
	ev, err := event.Unmarshal(m.data)
	if err != nil {
		res.Undecodable++
		x.r.report()
		return nil
	}
	if x.filter.Type != "" && ev.Type != x.filter.Type {
		return nil
	}
	defer x.r.report()
	res.Matched++
	switch {
	case m.seq > res.AckFloor:
		res.InFlight++
	case x.dead[m.seq]:
		res.DeadLettered++
	case x.seen[ev.ID]:
		res.Repeated++
	case res.DryRun:
		x.seen[ev.ID] = true
		res.Replayed++
	default:
		x.seen[ev.ID] = true
		if err := x.r.pace(ctx); err != nil {
			return err
		}
		ack, err := x.svc.publishEvent(ctx, m.data, ev, RerunMsgID(ev.ID, res.RunID))
		if err != nil {
			return fmt.Errorf("re-run event %d: %w", m.seq, err)
		}
		res.Replayed++
		if ack.Duplicate {
			res.Duplicates++
		}
	}
	return nil
}

// ackFloor reads the workers' consumer: every event at or below the floor is settled.
func (s *Service) ackFloor(ctx context.Context) (uint64, error) {
	c, err := s.js.Consumer(ctx, s.stream.Name, s.consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, fmt.Errorf("consumer %s on %s not found: no worker has run, so no event "+
			"is settled: %w", s.consumer, s.stream.Name, err)
	}
	if err != nil {
		return 0, fmt.Errorf("open consumer %s: %w", s.consumer, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer info %s: %w", s.consumer, err)
	}
	return info.AckFloor.Stream, nil
}

// deadSequences collects the event-stream sequences whose dead letters the filter's
// conversation and time could select. A dead letter is stored after its event, so
// entries stored before since cannot belong to the run.
func (s *Service) deadSequences(ctx context.Context, f RerunFilter) (map[uint64]bool, error) {
	seqs := map[uint64]bool{}
	st, _, err := s.deadStream(ctx)
	if err != nil {
		return nil, err
	}
	sel := selection{filter: Filter{ConversationID: f.ConversationID, Since: f.Since}}
	err = s.eachEntry(ctx, st, sel, func(d Detail) error {
		if d.EventSequence > 0 {
			seqs[d.EventSequence] = true
		}
		return nil
	})
	return seqs, err
}
