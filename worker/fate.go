package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys"
)

// failure applies the retry policy of err's class: a retry with its delay, or a dead
// letter once the class's budget is spent. Budgets run from when the event was stored,
// which JetStream keeps across crashes with the delivery count, so no attempt counter has
// to travel with the event.
func (w *Worker) failure(class string, err error, ev *event.Event,
	meta *jetstream.MsgMetadata) result {
	now := w.now()
	r := w.cfg.Retry
	switch class {
	case genesys.ClassNotReady.String():
		// The window runs from the storing of the event, not from the time the sender
		// wrote in it: for a live delivery the two are moments apart, a replayed event
		// gets a new window, a sender's late retry still gets its full window, and a
		// sender's clock set ahead cannot stretch it.
		elapsed := now.Sub(meta.Timestamp)
		if elapsed > r.NotReady.Window {
			return dead(class, event.ReasonNotReady, err, fmt.Sprintf(
				"participant never became visible within %s of the event being stored",
				r.NotReady.Window))
		}
		// A sixteenth of the time so far keeps retries near the initial delay for the
		// first seconds, when the participant usually appears.
		return retry(class, err, clamp(elapsed/16, r.NotReady.Initial, r.NotReady.Max))
	case genesys.ClassRateLimited.String():
		wait := genesys.RetryAfter(err)
		if wait <= 0 {
			wait = time.Second
		}
		return retry(class, err, min(wait, r.RateLimitedMaxWait))
	case genesys.ClassTransient.String(), genesys.ClassAuth.String():
		age := now.Sub(meta.Timestamp)
		if age > r.Transient.MaxAge && meta.NumDelivered >= minTransientAttempts {
			reason := event.ReasonTransient
			if class == genesys.ClassAuth.String() {
				reason = event.ReasonAuth
			}
			return dead(class, reason, err, fmt.Sprintf("still failing after %s",
				r.Transient.MaxAge))
		}
		// Half the age so far doubles the age at every retry: exponential backoff. An
		// event that waited in a backlog is old at its first failure; doubling by
		// deliveries instead starts it from the initial delay, not from the cap.
		delay := min(age/2, doubled(r.Transient.Initial, meta.NumDelivered))
		return retry(class, err, clamp(delay, r.Transient.Initial, r.Transient.Max))
	case genesys.ClassPermission.String():
		return dead(class, event.ReasonPermission, err,
			"Genesys refused: the OAuth client lacks a permission")
	case classBadData:
		return dead(class, event.ReasonBadData, err, "the lookup store holds unusable data")
	default:
		return dead(class, event.ReasonPermanent, err, "Genesys refused the request for good")
	}
}

// minTransientAttempts keeps an event that was already older than the transient budget
// when it first failed (one that waited out a stopped worker fleet, say) from being
// dead-lettered at its first 5xx: it gets this many deliveries first, a few minutes of
// backoff.
const minTransientAttempts = 10

// doubled is d doubled once per delivery after the first.
func doubled(d time.Duration, delivered uint64) time.Duration {
	for i := uint64(1); i < delivered && d < time.Hour; i++ {
		d *= 2
	}
	return d
}

func retry(class string, err error, delay time.Duration) result {
	return result{kind: kindRetry, class: class, err: err, delay: jitter(delay)}
}

func dead(class, reason string, err error, summary string) result {
	return result{kind: kindDead, class: class, reason: reason, summary: summary, err: err}
}

// settle decides the message's fate from the attempt's result; it is the only place that
// acknowledges, hands back or dead-letters.
func (w *Worker) settle(msg jetstream.Msg, meta *jetstream.MsgMetadata, ev *event.Event,
	res result, start time.Time) {
	if res.kind == kindRetry && meta.NumDelivered >= w.maxDeliver() {
		res = dead(res.class, event.ReasonMaxDeliveries, res.err,
			fmt.Sprintf("still retrying (%s) after %d deliveries", res.class, meta.NumDelivered))
	}
	var err error
	switch res.kind {
	case kindRetry:
		err = msg.NakWithDelay(res.delay)
	case kindInterrupted:
		err = msg.Nak()
	case kindDead:
		err = w.deadLetter(msg, meta, ev, res)
	default:
		err = msg.Ack()
	}
	if err != nil {
		// JetStream will deliver the event again after the ack wait; nothing is lost.
		w.log.Warn("settling event", zap.String("outcome", res.kind.String()),
			zap.Uint64("stream_seq", meta.Sequence.Stream), zap.Error(err))
	}
	w.record(meta, ev, res, start)
}

// deadLetter stores the entry and terminates the event only once the entry is stored;
// if storing fails the event comes back later and is dead-lettered then.
func (w *Worker) deadLetter(msg jetstream.Msg, meta *jetstream.MsgMetadata, ev *event.Event,
	res result) error {
	entry := &event.DeadLetter{
		Event: ev, Reason: res.reason, Summary: res.summary, Error: errorInfo(res),
		Attempts: int(meta.NumDelivered), FirstAttempt: meta.Timestamp.UTC(), //nolint:gosec
		LastAttempt: w.now().UTC(), Worker: w.id, StreamSequence: meta.Sequence.Stream,
	}
	if ev == nil {
		entry.Undecodable = undecodable(msg.Data())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.dead.store(ctx, entry); err != nil {
		_ = msg.NakWithDelay(time.Second)
		return err
	}
	return msg.TermWithReason(res.reason)
}

// maxDeliver is the safety net on deliveries. It is enforced here, not by the consumer:
// JetStream stops delivering at its own limit without telling anyone, so an event whose
// last delivery ended in a crash, a timeout or a failed dead-letter write would be dropped.
func (w *Worker) maxDeliver() uint64 {
	return uint64(max(w.cfg.MaxDeliver, 1)) //nolint:gosec // validated positive
}

func errorInfo(res result) event.ErrorInfo {
	info := event.ErrorInfo{Class: res.class}
	if res.err != nil {
		info.Message = res.err.Error()
	}
	var apiErr *genesys.APIError
	if errors.As(res.err, &apiErr) {
		info.Status, info.Code = apiErr.Status, apiErr.Code
		info.CorrelationID = apiErr.CorrelationID
		info.Message = apiErr.Message
	}
	return info
}

// record counts and logs one attempt. Per-event detail goes to debug; dead letters are
// worth a warning.
func (w *Worker) record(meta *jetstream.MsgMetadata, ev *event.Event, res result,
	start time.Time) {
	label := res.class
	if res.kind == kindDead {
		label = res.reason
	}
	w.metrics.events.WithLabelValues(res.kind.String(), label).Inc()
	w.counts[res.kind].Add(1)
	w.metrics.processing.Observe(time.Since(start).Seconds())
	fields := []zap.Field{
		zap.String("outcome", res.kind.String()), zap.Uint64("stream_seq", meta.Sequence.Stream),
		zap.Uint64("delivery", meta.NumDelivered),
	}
	if ev != nil {
		fields = append(fields, zap.String("event_id", ev.ID),
			zap.String("conversation_id", ev.ConversationID))
	}
	switch res.kind {
	case kindApplied:
		now := w.now()
		w.metrics.lag.WithLabelValues("event").Observe(now.Sub(ev.EventTime).Seconds())
		w.metrics.lag.WithLabelValues("receipt").Observe(now.Sub(ev.ReceivedAt).Seconds())
		w.metrics.attempts.Observe(float64(meta.NumDelivered))
		w.metrics.apiCalls.Observe(float64(res.apiCalls))
		w.log.Debug("event applied", fields...)
	case kindDead:
		info := errorInfo(res)
		w.log.Warn("event dead-lettered", append(fields, zap.String("reason", res.reason),
			zap.String("class", res.class), zap.Int("status", info.Status),
			zap.String("code", info.Code), zap.String("correlation_id", info.CorrelationID),
			zap.Error(res.err))...)
	case kindRetry:
		w.log.Debug("event retried", append(fields, zap.String("class", res.class),
			zap.Duration("delay", res.delay), zap.Error(res.err))...)
	default:
		w.log.Debug("event settled", fields...)
	}
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}

// jitter spreads a delay by up to a fifth either way, so events that failed together do
// not come back together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	spread := int64(d) / 5
	return d - time.Duration(spread) + time.Duration(rand.Int64N(2*spread+1)) //nolint:gosec
}
