// Package worker consumes stored events and writes the looked-up values into the
// participant's attributes in Genesys Cloud. Every event ends in exactly one of: written,
// deliberately skipped, or dead-lettered with its reason; retries wait in JetStream, so a
// crash loses nothing.
package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys"
	"github.com/scriptsync/scriptsync/lookup"
)

// Genesys is the part of the Genesys Cloud client the worker uses.
type Genesys interface {
	GetConversation(ctx context.Context, conversationID string) (*genesys.Conversation, error)
	PatchParticipantAttributes(ctx context.Context, conversationID, participantID, media string,
		attrs map[string]string) error
}

var _ Genesys = (*genesys.Client)(nil)

// Options are the parts a Worker is built from.
type Options struct {
	Config config.Worker
	// Stream is the event stream's configuration; the worker consumes all its subjects.
	Stream  config.Stream
	JS      jetstream.JetStream
	Genesys Genesys
	Lookup  lookup.Lookuper
	Logger  *zap.Logger
	// Registerer receives the worker's metrics under Namespace.
	Registerer prometheus.Registerer
	Namespace  string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Worker is one process's pool of consumers on the shared durable consumer.
type Worker struct {
	cfg     config.Worker
	stream  config.Stream
	js      jetstream.JetStream
	gen     Genesys
	lookup  lookup.Lookuper
	log     *zap.Logger
	metrics *metrics
	now     func() time.Time
	id      string
	leases  *leases
	dead    *deadLetters
	protect map[string]bool
	// counts are outcomes since the last summary line, by kind.
	counts [len(kindNames)]atomic.Int64
}

// New prepares a worker; Run starts it.
func New(o Options) *Worker {
	w := &Worker{
		cfg: o.Config, stream: o.Stream, js: o.JS, gen: o.Genesys, lookup: o.Lookup,
		log: o.Logger, now: o.Now, protect: map[string]bool{},
		metrics: newMetrics(o.Registerer, o.Namespace),
	}
	if w.now == nil {
		w.now = time.Now
	}
	host, _ := os.Hostname()
	w.id = host + "/" + strconv.Itoa(os.Getpid())
	for _, a := range o.Config.ProtectedAttributes {
		w.protect[a] = true
	}
	return w
}

// ConsumerConfig is the durable pull consumer every worker process shares.
//
// MaxAckPending (worker.max_ack_pending) counts events waiting for a delayed retry too,
// so it is set well above what the processes handle at once: a conversation waiting for
// its retry must not hold up the others.
func ConsumerConfig(w config.Worker, s config.Stream) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:     w.Consumer,
		Description: "scriptsync workers",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     w.AckWait,
		// Unlimited: the worker enforces max_deliver itself, dead-lettering instead of
		// letting JetStream drop the event silently.
		MaxDeliver:    -1,
		MaxAckPending: w.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: event.SubjectFilter(s.SubjectPrefix),
	}
}

// Run consumes until ctx ends, then shuts down in order: stop pulling, let events in
// flight finish for the grace period, then interrupt the rest, which go back to JetStream
// for another worker.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.prepare(ctx); err != nil {
		return err
	}
	cons, err := w.js.CreateOrUpdateConsumer(ctx, w.stream.Name, ConsumerConfig(w.cfg, w.stream))
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", w.cfg.Consumer, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(w.cfg.Concurrency))
	if err != nil {
		return fmt.Errorf("consume %s: %w", w.cfg.Consumer, err)
	}
	w.log.Info("worker started", zap.String("consumer", w.cfg.Consumer),
		zap.Int("concurrency", w.cfg.Concurrency), zap.String("worker", w.id))

	// Work runs under its own context so that the signal stops the pulling at once but
	// lets events in flight finish.
	workCtx, interrupt := context.WithCancel(context.WithoutCancel(ctx))
	defer interrupt()
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range w.cfg.Concurrency {
		wg.Go(func() {
			for m := range msgs {
				w.handle(workCtx, m)
			}
		})
	}
	stopped := context.AfterFunc(ctx, iter.Drain)
	defer stopped()
	reportCtx, stopReport := context.WithCancel(ctx)
	reporting := make(chan struct{})
	go func() {
		defer close(reporting)
		w.report(reportCtx, cons)
	}()
	w.feed(ctx, iter, msgs)
	stopReport()
	<-reporting
	close(msgs)
	w.finish(&wg, interrupt)
	if ctx.Err() == nil {
		// The iterator ended without a signal: the connection is closed for good. Exit so
		// the supervisor restarts the process instead of leaving it idle.
		return errors.New("event consumer stopped: nats connection closed")
	}
	return nil
}

// prepare creates the dead-letter stream and the lease bucket the worker needs.
func (w *Worker) prepare(ctx context.Context) error {
	var err error
	w.dead, err = openDeadLetters(ctx, w.js, w.cfg.DeadLetter, w.stream.Replicas)
	if err != nil {
		return err
	}
	w.leases, err = openLeases(ctx, w.js, w.cfg.LeaseBucket, w.cfg.LeaseTTL,
		w.stream.Replicas, w.id)
	return err
}

// feed hands pulled events to the pool until the iterator is drained. Events pulled after
// the signal are handed back at once instead of being started.
func (w *Worker) feed(ctx context.Context, iter jetstream.MessagesContext, msgs chan<- jetstream.Msg) {
	var lastErrLog time.Time
	for {
		m, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			// Missed heartbeats while NATS is away; the iterator keeps trying on its own.
			if time.Since(lastErrLog) > 10*time.Second {
				w.log.Warn("pulling events", zap.Error(err))
				lastErrLog = time.Now()
			}
			// Pause briefly so a dead connection does not spin the loop; the drain that
			// follows the signal ends it.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			_ = m.Nak()
		}
	}
}

// summaryEvery is how often the worker logs what it did and reads the consumer's backlog.
const summaryEvery = 30 * time.Second

// report logs a summary of outcomes at info every half minute when anything happened, and
// keeps the backlog gauge current, until ctx ends.
func (w *Worker) report(ctx context.Context, cons jetstream.Consumer) {
	t := time.NewTicker(summaryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if info, err := cons.Info(ctx); err == nil {
			w.metrics.pending.Set(float64(info.NumPending) + float64(info.NumAckPending))
		}
		var fields []zap.Field
		for k := range w.counts {
			if n := w.counts[k].Swap(0); n > 0 {
				fields = append(fields, zap.Int64(kind(k).String(), n))
			}
		}
		if len(fields) > 0 {
			w.log.Info("worker summary", append(fields,
				zap.Duration("period", summaryEvery))...)
		}
	}
}

func (w *Worker) finish(wg *sync.WaitGroup, interrupt context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(w.cfg.ShutdownGrace):
		w.log.Warn("shutdown grace over; handing events in flight back to JetStream")
		interrupt()
		<-done
	}
	w.leases.wait()
	w.log.Info("worker stopped", zap.String("worker", w.id))
}
