package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/adminapi"
	"github.com/scriptsync/scriptsync/internal/ops"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// opsService is what scriptsync dlq and the admin API run, over the stack's streams.
func (s *stack) opsService() *ops.Service {
	return ops.New(ops.Options{JS: s.conn.JS, Stream: s.cfg.Stream,
		DeadLetter: s.cfg.Worker.DeadLetter, Consumer: s.cfg.Worker.Consumer})
}

// deadCount is how many entries the dead-letter stream holds; -1 before it exists. It
// reads the stream's state, since replayed entries leave gaps that StreamMessages cannot
// step over.
func (s *stack) deadCount(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := s.conn.JS.Stream(ctx, s.cfg.Worker.DeadLetter.Stream)
	if err != nil {
		return -1
	}
	return int(st.CachedInfo().State.Msgs) //nolint:gosec // small counts
}

// fileReloads is how many times the worker's lookup reloaded its file.
func (h workerHandle) fileReloads(t *testing.T) float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "scriptsync_lookup_file_reloads_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == "ok" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestDeadLetterRoundTrip: an event fails for good on a bad lookup record, the listing
// shows it with its reason, the record is fixed, the replay stores it again, the
// attributes land, and the dead-letter stream is left empty.
func TestDeadLetterRoundTrip(t *testing.T) {
	s := start(t, sim.Options{}, func(c *config.Config) {
		c.Lookup.File.PollInterval = 20 * time.Millisecond
	})
	registerFixtures(t, s, 0)
	w := s.startWorkerWith(t, nil)
	svc := s.opsService()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The record's 300-character value is over Genesys's limit: dead-lettered at once.
	s.post(t, flat("round-trip-1", fixtureConv, fixtureAgent, "+14155550666", "s1"))
	var entry ops.Entry
	testsupport.Eventually(t, 10*time.Second, func() bool {
		page, err := svc.List(ctx, ops.ListOptions{Filter: ops.Filter{
			Reason: event.ReasonPermanent}})
		if err != nil || len(page.Entries) != 1 {
			return false
		}
		entry = page.Entries[0]
		return true
	}, "the listing shows the dead letter")
	if entry.EventID != "round-trip-1" || entry.ConversationID != fixtureConv ||
		entry.Class != "permanent" || entry.Attempts != 1 {
		t.Fatalf("listed entry: %+v", entry)
	}
	s.waitSettled(t, 5*time.Second)

	// Fix the record; the file source reloads it.
	reloads := w.fileReloads(t)
	fixed := strings.Replace(records(), strings.Repeat("x", 300), "platinum", 1)
	if err := os.WriteFile(s.cfg.Lookup.File.Path, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 10*time.Second, func() bool { return w.fileReloads(t) > reloads },
		"the worker reloads the fixed lookup file")

	res, err := svc.Replay(ctx, ops.Filter{Reason: event.ReasonPermanent},
		ops.RunOptions{Rate: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replayed != 1 || res.Deleted != 1 || res.Duplicates != 0 || !res.Complete {
		t.Fatalf("replay: %+v", res)
	}
	testsupport.Eventually(t, 10*time.Second, func() bool {
		return s.attributes(fixtureConv, fixtureAgent)["cust_tier"] == "platinum"
	}, "the replayed event's attributes land: %v", s.attributes(fixtureConv, fixtureAgent))
	s.waitSettled(t, 5*time.Second)
	if n := s.deadCount(t); n != 0 {
		t.Fatalf("%d entries left in the dead-letter stream", n)
	}
	page, err := svc.List(ctx, ops.ListOptions{})
	if err != nil || len(page.Entries) != 0 {
		t.Fatalf("listing after the replay: %+v, %v", page, err)
	}
}

// TestDeadLetterRoundTripThroughAdminAPI: an event whose conversation is not visible
// within the not-ready window is dead-lettered; once the conversation exists, a replay
// requested over the admin API applies it.
func TestDeadLetterRoundTripThroughAdminAPI(t *testing.T) {
	s := start(t, sim.Options{}, func(c *config.Config) {
		c.Worker.Retry.NotReady.Window = time.Second
	})
	s.startWorker(t, nil)
	const token = "e2e-admin-token-0123456789"
	h, err := adminapi.New(adminapi.Options{Ops: s.opsService(), Token: token,
		ReplayRate: 10, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(h)
	defer api.Close()
	call := func(method, path, body string, out any) int {
		req, err := http.NewRequest(method, api.URL+path, bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := api.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatalf("%s %s: %d: %v", method, path, resp.StatusCode, err)
			}
		}
		return resp.StatusCode
	}

	s.post(t, flat("late-1", "conv-late", "p-late", "+14155550123", "s1"))
	testsupport.Eventually(t, 15*time.Second, func() bool {
		var page ops.Page
		code := call("GET", "/admin/v1/dead-letters?reason=not_ready", "", &page)
		return code == http.StatusOK && len(page.Entries) == 1 &&
			page.Entries[0].EventID == "late-1"
	}, "the admin api lists the not-ready dead letter")
	s.waitSettled(t, 5*time.Second)

	if _, err := s.sim.RegisterConversation(sim.ConversationSpec{ID: "conv-late",
		Participants: []sim.ParticipantSpec{{ID: "p-late", Purpose: "customer"}}}); err != nil {
		t.Fatal(err)
	}
	var res ops.Result
	if code := call("POST", "/admin/v1/dead-letters/replay",
		`{"conversation_id": "conv-late"}`, &res); code != http.StatusOK ||
		res.Replayed != 1 || res.Deleted != 1 {
		t.Fatalf("replay: %d %+v", code, res)
	}
	testsupport.Eventually(t, 10*time.Second, func() bool {
		return s.attributes("conv-late", "p-late")["cust_tier"] == "gold"
	}, "the replayed event's attributes land")
	s.waitSettled(t, 5*time.Second)
	var page ops.Page
	if code := call("GET", "/admin/v1/dead-letters", "", &page); code != http.StatusOK ||
		len(page.Entries) != 0 || s.deadCount(t) != 0 {
		t.Fatalf("left: %d %+v", code, page)
	}
}
