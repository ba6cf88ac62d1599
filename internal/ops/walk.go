package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// stored is one message read from a stream.
type stored struct {
	seq     uint64
	subject string
	time    time.Time
	header  nats.Header
	data    []byte
}

// walkSpec says which messages of a stream a walk visits.
type walkSpec struct {
	// subject is a subject filter; wildcards allowed.
	subject string
	// since and until bound the stored time: since inclusive, until exclusive.
	since, until time.Time
	// after skips messages up to and including this sequence.
	after uint64
}

// errStop ends a walk early, without an error.
var errStop = errors.New("stop walking")

// walkIdle bounds the wait for the next message of a walk. A walk knows how many messages
// match when it starts, so this wait ends only a walk whose remaining messages were
// deleted while it ran.
const walkIdle = 5 * time.Second

// walk calls fn for every message on spec.subject within spec's bounds, in stream order,
// up to the last message stored when the walk began; messages stored later are left for
// the next walk. It reads with an ordered consumer that lives only as long as the walk.
// total receives the number of messages on the subject from the starting point, before
// the time and sequence bounds are applied: an upper bound for progress reports.
func walk(ctx context.Context, st jetstream.Stream, spec walkSpec, total func(uint64),
	fn func(stored) error) error {
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 || last <= spec.after {
		return nil
	}
	cons, err := st.OrderedConsumer(ctx, orderedConfig(spec))
	if err != nil {
		return fmt.Errorf("read stream %s: %w", info.Config.Name, err)
	}
	defer deleteConsumer(st, cons)
	pending := cons.CachedInfo().NumPending
	if total != nil {
		total(pending)
	}
	if pending == 0 {
		return nil
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return fmt.Errorf("read stream %s: %w", info.Config.Name, err)
	}
	defer iter.Stop()
	for {
		m, err := next(ctx, iter)
		if errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read stream %s: %w", info.Config.Name, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read stream %s: %w", info.Config.Name, err)
		}
		seq := meta.Sequence.Stream
		if seq > last || (!spec.until.IsZero() && !meta.Timestamp.Before(spec.until)) {
			return nil
		}
		if seq > spec.after {
			err := fn(stored{seq: seq, subject: m.Subject(), time: meta.Timestamp,
				header: m.Headers(), data: m.Data()})
			if errors.Is(err, errStop) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if seq >= last || meta.NumPending == 0 {
			return nil
		}
	}
}

func orderedConfig(spec walkSpec) jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{spec.subject},
		InactiveThreshold: time.Minute,
	}
	switch {
	case spec.after > 0:
		// Sequences beat times: a page of a listing starts where the last one ended.
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = spec.after + 1
	case !spec.since.IsZero():
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		since := spec.since
		cfg.OptStartTime = &since
	}
	return cfg
}

// next waits for the walk's next message; errStop when none comes within walkIdle.
func next(ctx context.Context, iter jetstream.MessagesContext) (jetstream.Msg, error) {
	wctx, cancel := context.WithTimeout(ctx, walkIdle)
	defer cancel()
	m, err := iter.Next(jetstream.NextContext(wctx))
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, errStop
	}
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return m, err
}

// deleteConsumer removes the walk's consumer at once rather than leaving it to the
// server's inactivity clean-up.
func deleteConsumer(st jetstream.Stream, cons jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = st.DeleteConsumer(ctx, cons.CachedInfo().Name)
}

// getMsg reads one message by sequence; ok is false when the stream has none there.
func getMsg(ctx context.Context, st jetstream.Stream, seq uint64) (stored, bool, error) {
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return stored{}, false, nil
	}
	if err != nil {
		return stored{}, false, fmt.Errorf("read message %d: %w", seq, err)
	}
	return stored{seq: m.Sequence, subject: m.Subject, time: m.Time, header: m.Header,
		data: m.Data}, true, nil
}

// subjectMatches reports whether subject matches filter, whose wildcards are single-token
// stars only (the filters this package builds).
func subjectMatches(filter, subject string) bool {
	f := strings.Split(filter, ".")
	s := strings.Split(subject, ".")
	if len(f) != len(s) {
		return false
	}
	for i := range f {
		if f[i] != "*" && f[i] != s[i] {
			return false
		}
	}
	return true
}
