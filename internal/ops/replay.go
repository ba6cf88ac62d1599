package ops

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/event"
)

// ReplayMsgID is the message id of a dead letter's replay: the original event id, then
// the entry's sequence. Replaying one entry twice within the event stream's duplicates
// window stores it once.
func ReplayMsgID(eventID string, deadSeq uint64) string {
	return eventID + ":replay:" + strconv.FormatUint(deadSeq, 10)
}

// Replay publishes the event of every selected entry to the event stream again, as a new
// delivery marked with event.HeaderReplayOf, and deletes the entry once the stream has
// confirmed the event. The event keeps its body, received_at included; the worker sees a
// new stream message, so its retry windows start again. An entry whose event is
// undecodable is left in place and counted.
//
// If the deletion fails after the publish, the entry stays; replaying it again within the
// event stream's duplicates window (stream.duplicates) is recognized and delivers nothing
// twice, but after that window it is delivered again.
func (s *Service) Replay(ctx context.Context, f Filter, o RunOptions) (Result, error) {
	if err := f.Validate(); err != nil {
		return Result{}, err
	}
	r, err := newRunner(o, s.now())
	if err != nil {
		return Result{}, err
	}
	st, _, err := s.deadStream(ctx)
	if err != nil {
		return Result{}, err
	}
	stopped := false
	err = s.eachEntry(ctx, st, s.runSelection(f, r), func(d Detail) error {
		if r.overBudget(s.now()) {
			stopped = true
			return errStop
		}
		defer r.report()
		r.res.Matched++
		if d.DeadLetter == nil || d.DeadLetter.Event == nil {
			r.res.Undecodable++
			return nil
		}
		if o.DryRun {
			r.res.Replayed++
			r.res.Deleted++
			return nil
		}
		return s.replayOne(ctx, st, r, d)
	})
	return r.finish(err, stopped)
}

func (s *Service) replayOne(ctx context.Context, st jetstream.Stream, r *runner, d Detail) error {
	ev := d.DeadLetter.Event
	data, err := ev.Marshal()
	if err != nil {
		return fmt.Errorf("replay dead letter %d: %w", d.Sequence, err)
	}
	if err := r.pace(ctx); err != nil {
		return err
	}
	ack, err := s.publishEvent(ctx, data, ev, ReplayMsgID(ev.ID, d.Sequence))
	if err != nil {
		return fmt.Errorf("replay dead letter %d: %w", d.Sequence, err)
	}
	r.res.Replayed++
	if ack.Duplicate {
		r.res.Duplicates++
	}
	gone, err := deleteEntry(ctx, st, d.Sequence)
	if err != nil {
		return fmt.Errorf("replay dead letter %d: event stored as %d: %w", d.Sequence,
			ack.Sequence, err)
	}
	if gone {
		r.res.Deleted++
	}
	return nil
}

// runSelection is a changing operation's selection: every entry of the filter, with the
// totals and missing sequences recorded in the result.
func (s *Service) runSelection(f Filter, r *runner) selection {
	return selection{filter: f, total: r.total, missing: func(seq uint64) {
		r.res.NotFound = append(r.res.NotFound, seq)
	}}
}

// publishEvent stores an event again under msgID, marked as re-published from the
// original event id, and waits for the stream's confirmation.
func (s *Service) publishEvent(ctx context.Context, data []byte, ev *event.Event,
	msgID string) (*jetstream.PubAck, error) {
	msg := &nats.Msg{
		Subject: event.Subject(s.stream.SubjectPrefix, s.stream.Partitions, ev.ConversationID),
		Data:    data,
		Header:  nats.Header{},
	}
	msg.Header.Set(event.HeaderReplayOf, ev.ID)
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID),
		jetstream.WithExpectStream(s.stream.Name))
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", s.stream.Name, err)
	}
	return ack, nil
}
