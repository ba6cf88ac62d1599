package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/broker"
)

// deadLetters stores entries in the dead-letter stream.
type deadLetters struct {
	js     jetstream.JetStream
	prefix string
}

func openDeadLetters(ctx context.Context, js jetstream.JetStream, cfg config.DeadLetter,
	replicas int) (*deadLetters, error) {
	if _, err := broker.EnsureDeadLetterStream(ctx, js, cfg, replicas); err != nil {
		return nil, err
	}
	return &deadLetters{js: js, prefix: cfg.SubjectPrefix}, nil
}

// store publishes the entry and waits for its PubAck. The message id derives from the
// event's stream sequence, so storing the same failure twice keeps one entry.
func (d *deadLetters) store(ctx context.Context, entry *event.DeadLetter) error {
	data, err := json.Marshal(entry)
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	conv := ""
	if entry.Event != nil {
		conv = entry.Event.ConversationID
	}
	msg := &nats.Msg{
		Subject: event.DeadLetterSubject(d.prefix, entry.Reason, conv),
		Data:    data,
	}
	id := "dead:" + strconv.FormatUint(entry.StreamSequence, 10)
	if _, err := d.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("store dead letter: %w", err)
	}
	return nil
}

// undecodable keeps a message that is not an event: as JSON when it is JSON, else as a
// JSON string of its bytes.
func undecodable(data []byte) json.RawMessage {
	if json.Valid(data) {
		return data
	}
	s, _ := json.Marshal(string(data))
	return s
}
