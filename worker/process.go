package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys"
	"github.com/scriptsync/scriptsync/lookup"
)

// kind is what became of one attempt at an event.
type kind int

const (
	kindApplied kind = iota
	kindUnchanged
	kindNoData
	kindStale
	kindRetry
	kindDead
	kindInterrupted
)

var kindNames = [...]string{
	kindApplied: "applied", kindUnchanged: "unchanged", kindNoData: "no_data",
	kindStale: "stale", kindRetry: "retried", kindDead: "dead_lettered",
	kindInterrupted: "interrupted",
}

func (k kind) String() string { return kindNames[k] }

// Failure classes beyond the Genesys ones.
const (
	classLocked  = "locked"
	classBadData = "bad_data"
)

// maxLeaseWait caps the wait for a conversation another worker holds: its holder is
// bounded by attempt_timeout, and the event should follow soon after it lets go.
const maxLeaseWait = 2 * time.Second

// result is one attempt's outcome, enough for settle to decide the message's fate.
type result struct {
	kind  kind
	class string // the failure class, for retries and dead letters
	// reason and summary describe a dead letter.
	reason, summary string
	delay           time.Duration
	err             error
	apiCalls        int
}

// handle runs one delivery of one event to its end: it never returns before the message
// is acknowledged, handed back with a delay, or dead-lettered.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	w.metrics.inFlight.Inc()
	defer w.metrics.inFlight.Dec()
	start := w.now()
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery; nothing to acknowledge it to.
		w.log.Error("message without metadata", zap.Error(err))
		return
	}
	ev, err := event.Unmarshal(msg.Data())
	if err != nil {
		w.settle(msg, meta, nil, result{kind: kindDead, class: "undecodable",
			reason: event.ReasonUndecodable, summary: "the stream message is not an event",
			err: err}, start)
		return
	}
	if meta.NumDelivered > w.maxDeliver() {
		// Every earlier delivery ended without an answer: the attempt crashed its worker,
		// or outlasted the ack wait. Another attempt would most likely do the same.
		w.settle(msg, meta, ev, dead("unsettled", event.ReasonMaxDeliveries, nil,
			fmt.Sprintf("delivered %d times without an answer from a worker",
				meta.NumDelivered)), start)
		return
	}
	res := w.safeAttempt(ctx, ev, meta)
	w.settle(msg, meta, ev, res, start)
}

// safeAttempt turns a panic in one event's handling into a transient failure, so one bad
// event cannot take the process down with the others in flight.
func (w *Worker) safeAttempt(ctx context.Context, ev *event.Event,
	meta *jetstream.MsgMetadata) (res result) {
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("panic handling event", zap.String("event_id", ev.ID),
				zap.Any("panic", p), zap.Stack("stack"))
			res = w.failure(genesys.ClassTransient.String(), fmt.Errorf("panic: %v", p), ev, meta)
		}
	}()
	actx, cancel := context.WithTimeout(ctx, w.cfg.AttemptTimeout)
	defer cancel()
	res = w.attempt(actx, ev, meta)
	if ctx.Err() != nil && res.kind != kindApplied {
		// Shutdown interrupted the attempt; whatever it returned is not the event's fault.
		return result{kind: kindInterrupted, err: ctx.Err(), apiCalls: res.apiCalls}
	}
	return res
}

// attempt is the pipeline: look up, take the conversation's lease, read, merge, write.
func (w *Worker) attempt(ctx context.Context, ev *event.Event, meta *jetstream.MsgMetadata) result {
	found, err := w.lookup.Lookup(ctx, ev)
	if err != nil {
		if errors.Is(err, lookup.ErrPermanent) {
			return w.failure(classBadData, err, ev, meta)
		}
		return w.failure(genesys.ClassTransient.String(), err, ev, meta)
	}
	if len(found.Attributes) == 0 {
		return result{kind: kindNoData}
	}
	release, heldFor, err := w.leases.acquire(ctx, ev.ConversationID)
	if err != nil {
		return w.failure(genesys.ClassTransient.String(), err, ev, meta)
	}
	if release == nil {
		// A lease held for long belongs to a worker that is waiting itself (a 429 pause,
		// a slow call): coming back every lease_retry would spend deliveries and lookups
		// for nothing, so the wait grows with how long the lease has been held.
		delay := clamp(heldFor/2, w.cfg.LeaseRetry, max(w.cfg.LeaseRetry, maxLeaseWait))
		return result{kind: kindRetry, class: classLocked, delay: jitter(delay)}
	}
	defer release()
	res := w.readModifyWrite(ctx, ev, found.Attributes, meta)
	return res
}

func (w *Worker) readModifyWrite(ctx context.Context, ev *event.Event,
	values map[string]string, meta *jetstream.MsgMetadata) result {
	conv, err := w.gen.GetConversation(ctx, ev.ConversationID)
	if err != nil {
		res := w.failure(genesys.Classify(err).String(), err, ev, meta)
		res.apiCalls = 1
		return res
	}
	p := w.target(conv, ev)
	if p == nil {
		res := w.failure(genesys.ClassNotReady.String(),
			errors.New("participant not in the conversation yet"), ev, meta)
		res.apiCalls = 1
		return res
	}
	if (p.Ended() || !conv.EndTime.IsZero()) && w.cfg.OnEnded == config.OnEndedSkip {
		return result{kind: kindStale, apiCalls: 1}
	}
	merged, changed := merge(p.Attributes, values, w.protect)
	if len(changed) == 0 {
		return result{kind: kindUnchanged, apiCalls: 1}
	}
	body := merged
	if w.cfg.WriteMode == config.WriteModeChange {
		body = changed
	}
	err = w.gen.PatchParticipantAttributes(ctx, ev.ConversationID, p.ID, ev.Field("mediaType"),
		body)
	if err != nil {
		res := w.failure(genesys.Classify(err).String(), err, ev, meta)
		res.apiCalls = 2
		return res
	}
	return result{kind: kindApplied, apiCalls: 2}
}

// target picks the participant to write to. An event that names no participant falls back
// to the customer.
func (w *Worker) target(conv *genesys.Conversation, ev *event.Event) *genesys.Participant {
	if w.cfg.Target == config.TargetEvent && ev.ParticipantID != "" {
		p, _ := conv.Participant(ev.ParticipantID)
		return p
	}
	purpose := w.cfg.Target
	if purpose == config.TargetEvent {
		purpose = config.TargetCustomer
	}
	var best *genesys.Participant
	for i := range conv.Participants {
		p := &conv.Participants[i]
		if p.Purpose != purpose {
			continue
		}
		// Prefer one still connected, then the latest to join.
		if best == nil || (best.Ended() && !p.Ended()) ||
			(best.Ended() == p.Ended() && p.StartTime.After(best.StartTime)) {
			best = p
		}
	}
	return best
}

// merge lays the looked-up values over the participant's attributes. Protected names keep
// a non-empty current value. It returns the whole merged map and the keys that changed.
func merge(current, values map[string]string, protect map[string]bool) (
	merged, changed map[string]string) {
	merged = make(map[string]string, len(current)+len(values))
	maps.Copy(merged, current)
	changed = make(map[string]string, len(values))
	for k, v := range values {
		if protect[k] && current[k] != "" {
			continue
		}
		if old, ok := current[k]; !ok || old != v {
			changed[k] = v
			merged[k] = v
		}
	}
	return merged, changed
}
