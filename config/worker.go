package config

import (
	"slices"
	"time"
)

// Worker sets the consumers that write participant attributes.
type Worker struct {
	// Consumer is the durable consumer name every worker process shares; processes with
	// the same name split the events between them. Default scriptsync-worker.
	Consumer string `yaml:"consumer"`
	// Concurrency is how many events one process handles at once. Default 64.
	Concurrency int `yaml:"concurrency"`
	// AckWait is how long JetStream waits for a worker's answer before delivering an
	// event again, which is how a killed worker's events come back. Must exceed
	// attempt_timeout. Default 60s.
	AckWait time.Duration `yaml:"ack_wait"`
	// AttemptTimeout bounds one attempt at an event: lookup, read and write. Default 20s.
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
	// MaxDeliver is a safety net on deliveries of one event; the retry classes below end
	// retries long before it in normal operation. The worker, not JetStream, enforces it,
	// so an event past it is dead-lettered, never dropped. Default 1000.
	MaxDeliver int `yaml:"max_deliver"`
	// MaxAckPending caps the events delivered and not yet settled, across every process
	// of the consumer, events waiting for a delayed retry included. When it is reached
	// JetStream delivers nothing new until some settle, so during a long Genesys outage
	// it bounds how many waiting events can hold up new conversations: keep it well above
	// the events a minute of outage leaves waiting. Default 20000.
	MaxAckPending int `yaml:"max_ack_pending"`
	// ShutdownGrace is how long events in flight may take to finish after SIGTERM; the
	// rest are handed back to JetStream at once. Default 15s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// Target picks the participant written to: event (the participant the event names),
	// customer or external (the conversation's participant with that purpose).
	// Default event.
	Target string `yaml:"target"`
	// WriteMode is full (send the whole merged map, right whether Genesys merges or
	// replaces) or changed (send only changed keys, right only if it merges).
	// Default full.
	WriteMode string `yaml:"write_mode"`
	// ProtectedAttributes are never overwritten once they hold a non-empty value.
	// Default none.
	ProtectedAttributes []string `yaml:"protected_attributes"`
	// OnEnded is what happens to an event whose participant has ended: skip (acknowledge
	// as stale) or write anyway. Default skip.
	OnEnded string `yaml:"on_ended"`
	// LeaseBucket is the NATS key-value bucket holding per-conversation leases, which keep
	// two writes for one conversation from racing across all workers.
	// Default scriptsync_leases.
	LeaseBucket string `yaml:"lease_bucket"`
	// LeaseTTL is how long a lease lives if its holder dies. Must exceed attempt_timeout.
	// Default 30s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// LeaseRetry is how soon an event whose conversation is leased by another worker is
	// tried again. Default 50ms.
	LeaseRetry time.Duration `yaml:"lease_retry"`
	// Retry sets how each class of failure is retried.
	Retry Retry `yaml:"retry"`
	// DeadLetter sets the stream failed events go to.
	DeadLetter DeadLetter `yaml:"dead_letter"`
}

// Retry sets the retry policy of each failure class. Delays grow with the time since the
// event was first stored, so they need no attempt counter that could be lost in a crash.
type Retry struct {
	// NotReady is for Genesys answering "not found" right after the event.
	NotReady NotReadyRetry `yaml:"not_ready"`
	// Transient is for 5xx answers, timeouts, and lookup stores being down.
	Transient TransientRetry `yaml:"transient"`
	// RateLimitedMaxWait caps a 429's Retry-After. Default 2m.
	RateLimitedMaxWait time.Duration `yaml:"rate_limited_max_wait"`
}

// NotReadyRetry retries quickly for a window after the event.
type NotReadyRetry struct {
	// Window is how long after the event was stored the participant may stay invisible
	// before the event is dead-lettered. Default 60s.
	Window time.Duration `yaml:"window"`
	// Initial is the shortest delay between tries. Default 100ms.
	Initial time.Duration `yaml:"initial"`
	// Max is the longest delay between tries. Default 2s.
	Max time.Duration `yaml:"max"`
}

// TransientRetry backs off exponentially up to a cap, for a maximum age.
type TransientRetry struct {
	// MaxAge is how long after first being stored an event keeps being retried.
	// Default 1h.
	MaxAge time.Duration `yaml:"max_age"`
	// Initial is the first delay. Default 1s.
	Initial time.Duration `yaml:"initial"`
	// Max is the longest delay. Default 1m.
	Max time.Duration `yaml:"max"`
}

// DeadLetter sets the dead-letter stream.
type DeadLetter struct {
	// Stream is the stream's name. Default SCRIPTSYNC_DEAD_LETTERS.
	Stream string `yaml:"stream"`
	// SubjectPrefix starts every entry's subject: <prefix>.<reason>.<conversation id>.
	// Default scriptsync.dead.
	SubjectPrefix string `yaml:"subject_prefix"`
	// MaxAge is how long entries are kept. Default 720h (30 days).
	MaxAge time.Duration `yaml:"max_age"`
}

// Target and mode names.
const (
	TargetEvent     = "event"
	TargetCustomer  = "customer"
	TargetExternal  = "external"
	WriteModeFull   = "full"
	WriteModeChange = "changed"
	OnEndedSkip     = "skip"
	OnEndedWrite    = "write"
)

func (w Worker) validate() []error {
	var errs []error
	if !streamName.MatchString(w.Consumer) {
		errs = append(errs, invalid("worker.consumer", "%q may hold only letters, digits, - and _",
			w.Consumer))
	}
	if w.Concurrency < 1 || w.Concurrency > 4096 {
		errs = append(errs, invalid("worker.concurrency", "%d is outside 1..4096", w.Concurrency))
	}
	if w.AttemptTimeout <= 0 {
		errs = append(errs, invalid("worker.attempt_timeout", "must be positive"))
	}
	if w.AckWait <= w.AttemptTimeout {
		errs = append(errs, invalid("worker.ack_wait", "must exceed worker.attempt_timeout"))
	}
	if w.LeaseTTL <= w.AttemptTimeout {
		errs = append(errs, invalid("worker.lease_ttl", "must exceed worker.attempt_timeout, "+
			"or a slow attempt could outlive its lease"))
	}
	if w.MaxDeliver < 10 {
		errs = append(errs, invalid("worker.max_deliver", "must be at least 10"))
	}
	if w.MaxAckPending < w.Concurrency {
		errs = append(errs, invalid("worker.max_ack_pending",
			"%d is below worker.concurrency (%d): workers would sit idle", w.MaxAckPending,
			w.Concurrency))
	}
	if w.ShutdownGrace <= 0 {
		errs = append(errs, invalid("worker.shutdown_grace", "must be positive"))
	}
	if w.LeaseRetry <= 0 {
		errs = append(errs, invalid("worker.lease_retry", "must be positive"))
	}
	if !slices.Contains([]string{TargetEvent, TargetCustomer, TargetExternal}, w.Target) {
		errs = append(errs, invalid("worker.target", "%q is not event, customer or external",
			w.Target))
	}
	if w.WriteMode != WriteModeFull && w.WriteMode != WriteModeChange {
		errs = append(errs, invalid("worker.write_mode", "%q is not full or changed", w.WriteMode))
	}
	if w.OnEnded != OnEndedSkip && w.OnEnded != OnEndedWrite {
		errs = append(errs, invalid("worker.on_ended", "%q is not skip or write", w.OnEnded))
	}
	if !kvBucket.MatchString(w.LeaseBucket) {
		errs = append(errs, invalid("worker.lease_bucket", "%q may hold only letters, digits, "+
			"- and _", w.LeaseBucket))
	}
	return append(errs, w.Retry.validate(w.DeadLetter)...)
}

func (r Retry) validate(d DeadLetter) []error {
	var errs []error
	if r.NotReady.Window <= 0 || r.NotReady.Initial <= 0 || r.NotReady.Max < r.NotReady.Initial {
		errs = append(errs, invalid("worker.retry.not_ready",
			"window and initial must be positive and max at least initial"))
	}
	if r.Transient.MaxAge <= 0 || r.Transient.Initial <= 0 ||
		r.Transient.Max < r.Transient.Initial {
		errs = append(errs, invalid("worker.retry.transient",
			"max_age and initial must be positive and max at least initial"))
	}
	if r.RateLimitedMaxWait < time.Second {
		errs = append(errs, invalid("worker.retry.rate_limited_max_wait", "must be at least 1s"))
	}
	if !streamName.MatchString(d.Stream) {
		errs = append(errs, invalid("worker.dead_letter.stream",
			"%q may hold only letters, digits, - and _", d.Stream))
	}
	if !subjectPrefix.MatchString(d.SubjectPrefix) {
		errs = append(errs, invalid("worker.dead_letter.subject_prefix",
			"%q must be dot-separated tokens without wildcards", d.SubjectPrefix))
	}
	if d.MaxAge <= 0 {
		errs = append(errs, invalid("worker.dead_letter.max_age", "must be positive"))
	}
	return errs
}
