package ops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/ops"
	"github.com/scriptsync/scriptsync/internal/testsupport"
	"github.com/scriptsync/scriptsync/worker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).Start.func1"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
	)
}

// fixture is one embedded JetStream with both streams and a service over them.
type fixture struct {
	svc  *ops.Service
	js   jetstream.JetStream
	cfg  config.Config
	ctx  context.Context
	seqs int
}

func setup(t *testing.T) *fixture {
	t.Helper()
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	cfg := config.Default()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if _, err := broker.EnsureEventStream(ctx, js, cfg.Stream); err != nil {
		t.Fatal(err)
	}
	if _, err := broker.EnsureDeadLetterStream(ctx, js, cfg.Worker.DeadLetter, 1); err != nil {
		t.Fatal(err)
	}
	svc := ops.New(ops.Options{JS: js, Stream: cfg.Stream, DeadLetter: cfg.Worker.DeadLetter,
		Consumer: cfg.Worker.Consumer})
	return &fixture{svc: svc, js: js, cfg: cfg, ctx: ctx}
}

// newEvent is an event with a phone number in its fields and raw body.
func newEvent(id, conv, typ string) *event.Event {
	now := time.Now().UTC()
	return &event.Event{
		ID: id, Type: typ, ConversationID: conv, ParticipantID: "p-" + id,
		EventTime: now.Add(-time.Minute), ReceivedAt: now, Source: event.SourceFlat,
		Fields: map[string]string{"ani": "tel:+14155550123", "stepId": "s1",
			"callback": "+442071838750"},
		Raw: json.RawMessage(`{"ani":"tel:+14155550123"}`),
	}
}

// publishEvent stores an event as the ingest does and returns its stream sequence.
func (f *fixture) publishEvent(t *testing.T, ev *event.Event, msgID string) uint64 {
	t.Helper()
	data, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := f.cfg.Stream
	ack, err := f.js.Publish(f.ctx, event.Subject(s.SubjectPrefix, s.Partitions,
		ev.ConversationID), data, jetstream.WithMsgID(msgID))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// storeDead stores a dead letter as the worker does and returns its sequence.
func (f *fixture) storeDead(t *testing.T, reason string, ev *event.Event) uint64 {
	t.Helper()
	return f.storeDeadAt(t, reason, ev, uint64(101+f.seqs)) //nolint:gosec // small
}

// storeDeadAt stores a dead letter for the event at streamSeq in the event stream.
func (f *fixture) storeDeadAt(t *testing.T, reason string, ev *event.Event,
	streamSeq uint64) uint64 {
	t.Helper()
	f.seqs++
	entry := &event.DeadLetter{
		Event: ev, Reason: reason, Summary: "summary of " + reason,
		Error: event.ErrorInfo{Class: "permanent", Message: "refused", Status: 400,
			Code: "bad.request", CorrelationID: "corr-" + strconv.Itoa(f.seqs)},
		Attempts: 3, FirstAttempt: time.Now().UTC().Add(-time.Minute),
		LastAttempt: time.Now().UTC(), Worker: "test/1", StreamSequence: streamSeq,
	}
	if ev == nil {
		entry.Undecodable = json.RawMessage(`"not an event"`)
	}
	data, err := json.Marshal(entry)
	if err != nil {
		t.Fatal(err)
	}
	return f.storeRaw(t, reason, ev, data, "dead:"+uitoa(streamSeq))
}

func (f *fixture) storeRaw(t *testing.T, reason string, ev *event.Event, data []byte,
	msgID string) uint64 {
	t.Helper()
	conv := ""
	if ev != nil {
		conv = ev.ConversationID
	}
	msg := &nats.Msg{Subject: event.DeadLetterSubject(f.cfg.Worker.DeadLetter.SubjectPrefix,
		reason, conv), Data: data}
	ack, err := f.js.PublishMsg(f.ctx, msg, jetstream.WithMsgID(msgID))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// deadCount is how many entries the dead-letter stream holds. (StreamMessages cannot read
// a stream with deleted messages in it.)
func (f *fixture) deadCount(t *testing.T) int {
	t.Helper()
	st, err := f.js.Stream(f.ctx, f.cfg.Worker.DeadLetter.Stream)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.CachedInfo().State.Msgs) //nolint:gosec // small
}

// events reads the event stream.
func (f *fixture) events(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	return testsupport.StreamMessages(t, f.js, f.cfg.Stream.Name)
}

func seqsOf(entries []ops.Entry) []uint64 {
	out := make([]uint64, len(entries))
	for i, e := range entries {
		out[i] = e.Sequence
	}
	return out
}

func convID(i int) string {
	return fmt.Sprintf("conv-%d", i)
}

// settle plays the workers: it takes n events from their consumer and acknowledges those
// ack accepts, leaving the others pending.
func (f *fixture) settle(t *testing.T, n int, ack func(seq uint64) bool) {
	t.Helper()
	cons, err := f.js.CreateOrUpdateConsumer(f.ctx, f.cfg.Stream.Name,
		worker.ConsumerConfig(f.cfg.Worker, f.cfg.Stream))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		got++
		meta, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if ack(meta.Sequence.Stream) {
			if err := m.DoubleAck(f.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got != n {
		t.Fatalf("fetched %d events, want %d (%v)", got, n, batch.Error())
	}
}

func uitoa(n uint64) string {
	return strconv.FormatUint(n, 10)
}
