package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/ops"
	"github.com/scriptsync/scriptsync/internal/testsupport"
	"github.com/scriptsync/scriptsync/worker"
)

func TestDLQListNeverPrintsPhoneNumbers(t *testing.T) {
	t.Parallel()
	f := setupOps(t)
	f.storeDead(t, event.ReasonPermanent, testEvent("e1", "conv-1"), 7)
	f.storeDead(t, event.ReasonNotReady, testEvent("e2", "conv-2"), 8)

	code, out, errOut := f.run(t, "dlq", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ") ||
		!strings.Contains(lines[1], "permanent") || !strings.Contains(lines[1], "bad.request") ||
		!strings.Contains(lines[1], "corr-e1") || !strings.Contains(lines[2], "not_ready") {
		t.Fatalf("table:\n%s", out)
	}
	if strings.Contains(out, "4155550") {
		t.Fatalf("the table shows a phone number:\n%s", out)
	}

	code, out, _ = f.run(t, "dlq", "list", "--reason", "not_ready", "--json")
	var page ops.Page
	if err := json.Unmarshal([]byte(out), &page); err != nil || code != 0 ||
		len(page.Entries) != 1 || page.Entries[0].EventID != "e2" {
		t.Fatalf("json list: %d %v\n%s", code, err, out)
	}
	code, out, _ = f.run(t, "dlq", "list", "--since", "1h", "--conversation", "conv-1")
	if code != 0 || !strings.Contains(out, "corr-e1") || strings.Contains(out, "corr-e2") {
		t.Fatalf("filtered list: %d\n%s", code, out)
	}
}

func TestDLQShowMasksUnlessRevealed(t *testing.T) {
	t.Parallel()
	f := setupOps(t)
	seq := strconv.FormatUint(f.storeDead(t, event.ReasonPermanent,
		testEvent("e1", "conv-1"), 7), 10)

	code, out, errOut := f.run(t, "dlq", "show", seq)
	if code != 0 || !strings.Contains(out, "value too long") ||
		!strings.Contains(out, "corr-e1") || !strings.Contains(out, "***23") {
		t.Fatalf("show: %d %s\n%s", code, errOut, out)
	}
	if strings.Contains(out, "4155550") {
		t.Fatalf("show prints a phone number:\n%s", out)
	}
	code, out, _ = f.run(t, "dlq", "show", seq, "--json")
	var d ops.Detail
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != 0 ||
		strings.Contains(out, "4155550") || d.DeadLetter.Event.Raw != nil {
		t.Fatalf("json show: %d %v\n%s", code, err, out)
	}
	code, out, _ = f.run(t, "dlq", "show", "--reveal", seq)
	if code != 0 || !strings.Contains(out, phone) {
		t.Fatalf("revealed show: %d\n%s", code, out)
	}
	if code, _, _ := f.run(t, "dlq", "show", "999"); code != 1 {
		t.Errorf("show of a missing entry: exit %d", code)
	}
}

func TestDLQReplayDeletePurge(t *testing.T) {
	t.Parallel()
	f := setupOps(t)
	s1 := f.storeDead(t, event.ReasonPermanent, testEvent("e1", "conv-1"), 7)
	f.storeDead(t, event.ReasonPermanent, testEvent("e2", "conv-2"), 8)
	s3 := f.storeDead(t, event.ReasonAuth, testEvent("e3", "conv-3"), 9)
	f.storeDead(t, event.ReasonNotReady, testEvent("e4", "conv-4"), 10)

	code, out, _ := f.run(t, "dlq", "replay", "--reason", "permanent", "--dry-run")
	if code != 0 || !strings.Contains(out, "would replay 2 of 2") ||
		f.streamMsgs(t, f.cfg.Stream.Name) != 0 {
		t.Fatalf("dry run: %d\n%s", code, out)
	}
	code, out, _ = f.run(t, "dlq", "replay", strconv.FormatUint(s1, 10), "--rate", "100")
	if code != 0 || !strings.Contains(out, "replayed 1 of 1") ||
		f.streamMsgs(t, f.cfg.Stream.Name) != 1 {
		t.Fatalf("replay one: %d\n%s", code, out)
	}

	out, err := f.runWithInput(t, "no\n", runDLQ, "delete", strconv.FormatUint(s3, 10))
	if err == nil || !strings.Contains(out, "removes 1 dead letters") ||
		f.streamMsgs(t, f.cfg.Worker.DeadLetter.Stream) != 3 {
		t.Fatalf("delete answered no: %v\n%s", err, out)
	}
	out, err = f.runWithInput(t, "yes\n", runDLQ, "delete", strconv.FormatUint(s3, 10))
	if err != nil || !strings.Contains(out, "removed 1 entries") ||
		f.streamMsgs(t, f.cfg.Worker.DeadLetter.Stream) != 2 {
		t.Fatalf("delete answered yes: %v\n%s", err, out)
	}
	_, err = f.runWithInput(t, "", runDLQ, "purge")
	if err == nil || f.streamMsgs(t, f.cfg.Worker.DeadLetter.Stream) != 2 {
		t.Fatalf("purge without an answer: %v", err)
	}
	code, out, _ = f.run(t, "dlq", "purge", "--reason", "not_ready", "--yes")
	if code != 0 || !strings.Contains(out, "removed 1 entries") {
		t.Fatalf("purge by reason: %d\n%s", code, out)
	}
	code, out, _ = f.run(t, "dlq", "purge", "--yes")
	if code != 0 || !strings.Contains(out, "removed 1 entries") ||
		f.streamMsgs(t, f.cfg.Worker.DeadLetter.Stream) != 0 {
		t.Fatalf("purge all: %d\n%s", code, out)
	}
}

func TestDLQUsageErrors(t *testing.T) {
	t.Parallel()
	f := setupOps(t)
	for _, args := range [][]string{
		{"dlq"},
		{"dlq", "nope"},
		{"dlq", "list", "--reason", "nope"},
		{"dlq", "list", "--since", "last tuesday"},
		{"dlq", "show"},
		{"dlq", "show", "x"},
		{"dlq", "replay"},
		{"dlq", "delete"},
		{"dlq", "purge", "3"},
		{"replay"},
		{"replay", "--conversation", "a.b"},
	} {
		if code, _, errOut := f.run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, errOut)
		}
	}
}

func TestReplayCommandSkipsInFlight(t *testing.T) {
	t.Parallel()
	f := setupOps(t)
	for i := range 3 {
		f.publishEvent(t, testEvent("ev-"+strconv.Itoa(i), "conv-1"))
	}
	if code, _, errOut := f.run(t, "replay", "--all"); code != 1 ||
		!strings.Contains(errOut, "no worker has run") {
		t.Fatalf("replay without a consumer: %d %s", code, errOut)
	}
	// The workers settled the first two events and hold the third.
	cons, err := f.js.CreateOrUpdateConsumer(f.ctx, f.cfg.Stream.Name,
		worker.ConsumerConfig(f.cfg.Worker, f.cfg.Stream))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if meta, _ := m.Metadata(); meta.Sequence.Stream < 3 {
			if err := m.DoubleAck(f.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	code, out, errOut := f.run(t, "replay", "--conversation", "conv-1", "--json")
	var res ops.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("replay: %d %v %s\n%s", code, err, errOut, out)
	}
	if res.Replayed != 2 || res.InFlight != 1 || res.AckFloor != 2 ||
		f.streamMsgs(t, f.cfg.Stream.Name) != 5 {
		t.Fatalf("result: %+v", res)
	}
	code, out, _ = f.run(t, "replay", "--type", "user.start", "--since", "1h", "--dry-run")
	if code != 0 || !strings.Contains(out, "would publish") ||
		!strings.Contains(out, "in flight") {
		t.Fatalf("dry run: %d\n%s", code, out)
	}
}

func TestAdminAPIOnTheAdminListener(t *testing.T) {
	t.Parallel()
	f := setupOps(t)
	f.storeDead(t, event.ReasonPermanent, testEvent("e1", "conv-1"), 7)
	cfg := f.cfg
	cfg.Metrics.Addr = "127.0.0.1:0"
	log := zaptest.NewLogger(t)

	off, err := adminAPI(&cfg, f.js, log)
	if err != nil || off != nil {
		t.Fatalf("the API is served without a token: %v", err)
	}
	cfg.Admin.Token = "cmd-test-token-0123456789"
	api, err := adminAPI(&cfg, f.js, log)
	if err != nil || api == nil {
		t.Fatalf("api: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := adminServer(ctx, cfg.Metrics, newRegistry(),
		func(context.Context) error { return nil }, log, api)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("admin listener: %v", err)
		}
	})
	base := "http://" + srv.Addr()
	get := func(path, token string) int {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	testsupport.Eventually(t, 5*time.Second, func() bool { return get("/healthz", "") == 200 },
		"the admin listener answers")
	if code := get("/admin/v1/dead-letters", ""); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d", code)
	}
	if code := get("/admin/v1/dead-letters", cfg.Admin.Token); code != http.StatusOK {
		t.Errorf("with the token: %d", code)
	}
	if code := get("/metrics", ""); code != http.StatusOK {
		t.Errorf("metrics behind the token: %d", code)
	}
	http.DefaultClient.CloseIdleConnections()
}
