package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/app"
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

// records are the lookup file's contents for every test: the fixtures' callers, a record
// whose value is too long for Genesys, and one caller per synthetic participant.
func records() string {
	var b strings.Builder
	b.WriteString(`"customer:+14155550123": {cust_tier: gold, open_case: CS-10482}` + "\n")
	b.WriteString(`"customer:+14155550199": {cust_tier: silver}` + "\n")
	b.WriteString(`"customer:+14155550666": {cust_tier: "` + strings.Repeat("x", 300) +
		`"}` + "\n")
	for i := range 100 {
		fmt.Fprintf(&b, "\"customer:+1415556%04d\": {cust_tier: tier-%d}\n", i, i%3)
	}
	return b.String()
}

// stack is one scriptsync deployment in miniature.
type stack struct {
	nats      *testsupport.NATS
	sim       *sim.Server
	cfg       config.Config
	ingestURL string
	conn      *broker.Conn
	// log, when set, is the logger of every part instead of the quiet defaults.
	log *zap.Logger
}

// start runs NATS, the simulator and the ingest; workers are started by the test.
func start(t *testing.T, simOpts sim.Options, mutate func(*config.Config)) *stack {
	t.Helper()
	return startLogged(t, simOpts, mutate, nil, nil)
}

// startLogged is start with every part, workers included, logging to log, and the
// simulator's handler wrapped by wrapSim when it is set.
func startLogged(t *testing.T, simOpts sim.Options, mutate func(*config.Config),
	log *zap.Logger, wrapSim func(http.Handler) http.Handler) *stack {
	t.Helper()
	s := &stack{nats: testsupport.StartNATS(t), log: log}
	simOpts.ClientID, simOpts.ClientSecret = "e2e-client", "e2e-secret-0123456789"
	var simURL string
	if log == nil && wrapSim == nil {
		s.sim, simURL = testsupport.StartSim(t, simOpts)
	} else {
		s.sim, simURL = startSim(t, simOpts, log, wrapSim)
	}

	dir := t.TempDir()
	lookupFile := filepath.Join(dir, "lookup.yaml")
	if err := os.WriteFile(lookupFile, []byte(records()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Log.Level = "warn"
	cfg.Metrics.Addr = ""
	cfg.NATS.URL = s.nats.URL()
	cfg.Ingest.Addr = "127.0.0.1:0"
	cfg.Ingest.Auth.Methods = []string{config.AuthNone}
	cfg.Genesys.LoginURL, cfg.Genesys.APIURL = simURL, simURL
	cfg.Genesys.ClientID, cfg.Genesys.ClientSecret = simOpts.ClientID, simOpts.ClientSecret
	cfg.Genesys.RatePerMinute = 60000
	cfg.Genesys.Burst = 200
	cfg.Genesys.Timeout = 3 * time.Second
	cfg.Lookup.File.Path = lookupFile
	cfg.Worker.Concurrency = 32
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	s.cfg = cfg

	ctx, cancel := context.WithCancel(context.Background())
	var err error
	s.conn, err = broker.Connect(ctx, cfg.NATS, false, s.logger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := app.Ingest(ctx, &s.cfg, s.conn, prometheus.NewRegistry(),
		s.logger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	s.ingestURL = "http://" + srv.Addr() + "/v1/events"
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
		s.conn.Close()
	})
	return s
}

// logger is the stack's logger when it has one, else def.
func (s *stack) logger(def *zap.Logger) *zap.Logger {
	if s.log != nil {
		return s.log
	}
	return def
}

// startSim is testsupport.StartSim with a logger and a wrapper of the handler.
func startSim(t *testing.T, opts sim.Options, log *zap.Logger,
	wrap func(http.Handler) http.Handler) (*sim.Server, string) {
	t.Helper()
	if log == nil {
		log = zap.NewNop()
	}
	srv := sim.New(opts, log.With(zap.String("component", "sim")))
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return srv, ts.URL
}

// startWorker runs one worker "process": its own NATS connection, Genesys client (and so
// its own token) and lookup. stop ends it as SIGTERM would.
func (s *stack) startWorker(t *testing.T, mutate func(*config.Config)) (stop func()) {
	t.Helper()
	return s.startWorkerWith(t, mutate).stop
}

// workerHandle stops a worker as SIGTERM would, or kills it: its NATS connection closes
// at once, leaving its events unacknowledged.
type workerHandle struct {
	stop func()
	kill func()
	reg  *prometheus.Registry
}

// settled counts the events this worker brought to an end (written, unchanged, skipped
// or dead-lettered), from its own metrics.
func (h workerHandle) settled(t *testing.T) int {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		if f.GetName() != "scriptsync_worker_events_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() != "retried" &&
					l.GetValue() != "interrupted" {
					n += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return n
}

func (s *stack) startWorkerHandle(t *testing.T) workerHandle {
	t.Helper()
	return s.startWorkerWith(t, nil)
}

func (s *stack) startWorkerWith(t *testing.T, mutate func(*config.Config)) workerHandle {
	t.Helper()
	cfg := s.cfg
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := broker.Connect(ctx, cfg.NATS, false, s.logger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	log := s.logger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	reg := prometheus.NewRegistry()
	w, _, closeLookup, err := app.Worker(ctx, &cfg, conn, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var killed atomic.Bool
	stop := func() {
		once.Do(func() {
			cancel()
			// A killed worker reports its lost connection; that is the point of killing it.
			if err := <-done; err != nil && !killed.Load() {
				t.Errorf("worker: %v", err)
			}
			closeLookup()
			conn.Close()
		})
	}
	t.Cleanup(stop)
	return workerHandle{stop: stop, kill: func() { killed.Store(true); conn.NC.Close() }, reg: reg}
}

func (s *stack) post(t *testing.T, body []byte) {
	t.Helper()
	resp, err := http.Post(s.ingestURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest answered %d", resp.StatusCode)
	}
}

// flat is a relay-style event for a synthetic participant.
func flat(id, conv, participant, phone, step string) []byte {
	return fmt.Appendf(nil, `{"eventId":%q,"eventType":"agent:script:step:entered",`+
		`"occurredAt":%q,"conversationId":%q,"participantId":%q,"ani":"tel:%s",`+
		`"stepId":%q}`, id, time.Now().UTC().Format(time.RFC3339Nano), conv, participant,
		phone, step)
}

func (s *stack) attributes(conv, participant string) map[string]string {
	c, ok := s.sim.Conversation(conv)
	if !ok {
		return nil
	}
	for _, p := range c.Participants {
		if p.ID == participant {
			return p.Attributes
		}
	}
	return nil
}

// deadLetters reads the dead-letter stream.
func (s *stack) deadLetters(t *testing.T) []*event.DeadLetter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.conn.JS.Stream(ctx, s.cfg.Worker.DeadLetter.Stream); errors.Is(err,
		jetstream.ErrStreamNotFound) {
		return nil
	}
	var out []*event.DeadLetter
	for _, m := range testsupport.StreamMessages(t, s.conn.JS, s.cfg.Worker.DeadLetter.Stream) {
		d, err := event.UnmarshalDeadLetter(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// pending is how many events the workers' consumer still holds: not yet delivered, or
// delivered and not yet settled for good.
func (s *stack) pending(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := s.conn.JS.Consumer(ctx, s.cfg.Stream.Name, s.cfg.Worker.Consumer)
	if err != nil {
		return -1
	}
	info, err := c.Info(ctx)
	if err != nil {
		return -1
	}
	return int(info.NumPending) + info.NumAckPending //nolint:gosec // small counts
}

func (s *stack) waitSettled(t *testing.T, timeout time.Duration) {
	t.Helper()
	testsupport.Eventually(t, timeout, func() bool { return s.pending(t) == 0 },
		"every event settled (pending %d)", s.pending(t))
}
