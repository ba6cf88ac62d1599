package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
)

// ErrUnavailable marks a publish JetStream did not confirm: the event may or may not be
// stored, so the sender must retry (deduplication makes the retry safe).
var ErrUnavailable = errors.New("event store unavailable")

// Publisher stores one event and reports whether it was a duplicate of one already stored.
// Implementations return only after the store confirmed, or an error wrapping
// ErrUnavailable.
type Publisher interface {
	Publish(ctx context.Context, ev *event.Event, data []byte) (PublishResult, error)
}

// PublishResult is what the store said about a stored event.
type PublishResult struct {
	Sequence  uint64
	Duplicate bool
}

// StoredReader is implemented by a Publisher that can read back what it stored. The
// handler uses it only after the store answered a publish as a duplicate, to tell a
// sender's retry from a sender's id reused for a different event.
type StoredReader interface {
	// Stored returns the encoded event (event.Marshal) stored under a sequence that a
	// PublishResult named.
	Stored(ctx context.Context, seq uint64) ([]byte, error)
}

// JetStreamPublisher publishes events with their id as Nats-Msg-Id, pipelining publishes
// on one connection and waiting for each one's PubAck.
type JetStreamPublisher struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream config.Stream

	// handle is the stream, looked up on the first Stored call and kept: the lookup is a
	// request of its own, not needed on the publish path.
	mu     sync.Mutex
	handle jetstream.Stream
}

var _ StoredReader = (*JetStreamPublisher)(nil)

// NewJetStreamPublisher publishes to the subjects of the stream cfg describes.
func NewJetStreamPublisher(nc *nats.Conn, js jetstream.JetStream, cfg config.Stream) *JetStreamPublisher {
	return &JetStreamPublisher{nc: nc, js: js, stream: cfg}
}

// Publish implements Publisher.
func (p *JetStreamPublisher) Publish(ctx context.Context, ev *event.Event, data []byte) (
	PublishResult, error) {
	// While disconnected the client would buffer the message and report nothing until
	// the timeout; answering at once lets the sender retry sooner.
	if !p.nc.IsConnected() {
		return PublishResult{}, fmt.Errorf("%w: not connected to nats", ErrUnavailable)
	}
	// Only the message id travels as a header: each header costs the server parsing time
	// on every message, and the subject already routes the event to its stream.
	msg := &nats.Msg{
		Subject: event.Subject(p.stream.SubjectPrefix, p.stream.Partitions, ev.ConversationID),
		Data:    data,
	}
	fut, err := p.js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.ID))
	if err != nil {
		return PublishResult{}, fmt.Errorf("%w: publish: %w", ErrUnavailable, err)
	}
	select {
	case ack := <-fut.Ok():
		return PublishResult{Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
	case err := <-fut.Err():
		return PublishResult{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case <-ctx.Done():
		return PublishResult{}, fmt.Errorf("%w: no confirmation in time", ErrUnavailable)
	}
}

// Stored implements StoredReader with one direct read of the stream message.
func (p *JetStreamPublisher) Stored(ctx context.Context, seq uint64) ([]byte, error) {
	s, err := p.streamHandle(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("get stored event %d: %w", seq, err)
	}
	return m.Data, nil
}

func (p *JetStreamPublisher) streamHandle(ctx context.Context) (jetstream.Stream, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.handle != nil {
		return p.handle, nil
	}
	s, err := p.js.Stream(ctx, p.stream.Name)
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", p.stream.Name, err)
	}
	p.handle = s
	return s, nil
}
