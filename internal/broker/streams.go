package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
)

// EventStreamConfig is the JetStream configuration of the event stream.
//
// Retention is by age, not by acknowledgement: processed events stay for stream.max_age so
// operators can replay them after a fix to lookup data. Discard-new makes a full stream
// refuse new events (the sender gets 503 and retries) rather than silently drop old ones.
func EventStreamConfig(cfg config.Stream) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: "scriptsync conversation events",
		Subjects:    []string{event.SubjectFilter(cfg.SubjectPrefix)},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		MaxMsgs:     -1,
		Duplicates:  cfg.Duplicates,
	}
}

// EnsureEventStream creates the event stream, or updates it to the configured settings.
func EnsureEventStream(ctx context.Context, js jetstream.JetStream, cfg config.Stream) (
	jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, EventStreamConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// DeadLetterStreamConfig is the JetStream configuration of the dead-letter stream. Entries
// leave it by age or when an operator replays or deletes them.
func DeadLetterStreamConfig(cfg config.DeadLetter, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "scriptsync events that could not be applied",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		MaxAge:      cfg.MaxAge,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		// A worker that dies between storing an entry and terminating the event stores
		// the entry again on redelivery; the message id makes that a no-op.
		Duplicates: time.Hour,
	}
}

// EnsureDeadLetterStream creates the dead-letter stream, or updates it to the settings.
func EnsureDeadLetterStream(ctx context.Context, js jetstream.JetStream, cfg config.DeadLetter,
	replicas int) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, DeadLetterStreamConfig(cfg, replicas))
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w", cfg.Stream, err)
	}
	return s, nil
}
