// Package ops holds the operator's operations on scriptsync's streams: listing, showing,
// replaying and deleting dead letters, and re-running processed events from the event
// stream after a fix to lookup data. The command line and the admin HTTP API both call
// it. It never logs: long operations report through a progress callback, and the caller
// decides what to say.
package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/config"
)

// ErrNotFound means the dead-letter stream holds no entry at the given sequence.
var ErrNotFound = errors.New("no such dead letter")

// Options are the parts a Service is built from.
type Options struct {
	// JS reaches the streams; the caller owns its connection.
	JS jetstream.JetStream
	// Stream is the event stream: replays are published to it and re-runs read from it.
	Stream config.Stream
	// DeadLetter is the dead-letter stream.
	DeadLetter config.DeadLetter
	// Consumer is the workers' durable consumer, whose acknowledgement floor decides
	// which events a re-run may publish again.
	Consumer string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service runs the operations. It is safe for concurrent use; two operations that change
// the same entries at once (two replays of one set, say) each see the other's deletions
// as entries that vanished, never as errors.
type Service struct {
	js       jetstream.JetStream
	stream   config.Stream
	dead     config.DeadLetter
	consumer string
	now      func() time.Time
}

// New prepares a Service. It opens nothing: each operation finds its streams itself, so a
// service built before the first worker created the dead-letter stream works once it does.
func New(o Options) *Service {
	s := &Service{js: o.JS, stream: o.Stream, dead: o.DeadLetter, consumer: o.Consumer,
		now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// deadStream opens the dead-letter stream; ok is false when no worker has created it yet.
func (s *Service) deadStream(ctx context.Context) (jetstream.Stream, bool, error) {
	st, err := s.js.Stream(ctx, s.dead.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open stream %s: %w", s.dead.Stream, err)
	}
	return st, true, nil
}
