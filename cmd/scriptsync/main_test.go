package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).Start.func1"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	)
}

// opsFixture is an embedded JetStream with both streams, and the environment that points
// the operator commands at it.
type opsFixture struct {
	js      jetstream.JetStream
	cfg     config.Config
	environ []string
	ctx     context.Context
}

func setupOps(t *testing.T) *opsFixture {
	t.Helper()
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	path := filepath.Join(t.TempDir(), "scriptsync.yaml")
	if err := os.WriteFile(path, []byte("ingest: {auth: {methods: [none]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cfg := config.Default()
	if _, err := broker.EnsureEventStream(ctx, js, cfg.Stream); err != nil {
		t.Fatal(err)
	}
	if _, err := broker.EnsureDeadLetterStream(ctx, js, cfg.Worker.DeadLetter, 1); err != nil {
		t.Fatal(err)
	}
	return &opsFixture{js: js, cfg: cfg, ctx: ctx, environ: []string{
		config.EnvConfigFile + "=" + path, "SCRIPTSYNC_NATS_URL=" + n.URL(),
	}}
}

// run runs the command line and returns its exit status, stdout and stderr.
func (f *opsFixture) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(f.ctx, args, f.environ, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// runWithInput runs one command with stdin, as confirmation prompts read it.
func (f *opsFixture) runWithInput(t *testing.T, input string, cmd func(context.Context, *env,
	[]string) error, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{environ: f.environ, stdin: strings.NewReader(input), stdout: &stdout,
		stderr: &stderr}
	err := cmd(f.ctx, e, args)
	return stdout.String() + stderr.String(), err
}

const phone = "+14155550123"

func testEvent(id, conv string) *event.Event {
	now := time.Now().UTC()
	return &event.Event{
		ID: id, Type: "user.start", ConversationID: conv, ParticipantID: "p-1",
		EventTime: now, ReceivedAt: now, Source: event.SourceFlat,
		Fields: map[string]string{"ani": "tel:" + phone, "stepId": "s1"},
		Raw:    json.RawMessage(`{"ani":"tel:` + phone + `"}`),
	}
}

// storeDead stores an entry as the worker does and returns its sequence.
func (f *opsFixture) storeDead(t *testing.T, reason string, ev *event.Event,
	eventSeq uint64) uint64 {
	t.Helper()
	entry := &event.DeadLetter{
		Event: ev, Reason: reason, Summary: "Genesys refused the request for good",
		Error: event.ErrorInfo{Class: "permanent", Message: "value too long", Status: 400,
			Code: "bad.request", CorrelationID: "corr-" + ev.ID},
		Attempts: 2, FirstAttempt: time.Now().UTC().Add(-time.Minute),
		LastAttempt: time.Now().UTC(), Worker: "host/1", StreamSequence: eventSeq,
	}
	data, err := json.Marshal(entry)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: event.DeadLetterSubject(f.cfg.Worker.DeadLetter.SubjectPrefix,
		reason, ev.ConversationID), Data: data}
	ack, err := f.js.PublishMsg(f.ctx, msg, jetstream.WithMsgID("dead:"+ev.ID))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// publishEvent stores an event as the ingest does.
func (f *opsFixture) publishEvent(t *testing.T, ev *event.Event) uint64 {
	t.Helper()
	data, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := f.cfg.Stream
	ack, err := f.js.Publish(f.ctx, event.Subject(s.SubjectPrefix, s.Partitions,
		ev.ConversationID), data, jetstream.WithMsgID(ev.ID))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func (f *opsFixture) streamMsgs(t *testing.T, name string) uint64 {
	t.Helper()
	st, err := f.js.Stream(f.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.Msgs
}
