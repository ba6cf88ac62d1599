package e2e_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// outcomes sums the worker's scriptsync_worker_events_total by outcome, over every
// reason, from its own registry.
func (h workerHandle) outcomes(t *testing.T) map[string]float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "scriptsync_worker_events_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// TestWriteModeSendsWhatItSays: the PATCH body is the whole merged map in full mode and
// only the changed keys in changed mode. The simulator replaces the stored map with what
// it is sent, as Genesys might: that is the case write_mode full exists for, and the
// stored map shows the cost of changed mode against such a server.
func TestWriteModeSendsWhatItSays(t *testing.T) {
	const conv, part = "write-mode-conv", "write-mode-p"
	// The participant holds an attribute the lookup knows nothing of (ivr_lang) and one
	// the lookup would set to the value it already has (cust_tier): neither has changed.
	initial := map[string]string{"ivr_lang": "en-US", "cust_tier": "gold"}
	cases := []struct {
		mode string
		// sent is the PATCH body the worker must send, stored the map left afterwards.
		sent, stored map[string]string
	}{
		{mode: config.WriteModeFull,
			sent: map[string]string{"ivr_lang": "en-US", "cust_tier": "gold",
				"open_case": "CS-10482"},
			stored: map[string]string{"ivr_lang": "en-US", "cust_tier": "gold",
				"open_case": "CS-10482"}},
		{mode: config.WriteModeChange,
			sent:   map[string]string{"open_case": "CS-10482"},
			stored: map[string]string{"open_case": "CS-10482"}},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			s := start(t, sim.Options{WriteMode: sim.WriteReplace}, func(c *config.Config) {
				c.Worker.WriteMode = tc.mode
			})
			if _, err := s.sim.RegisterConversation(sim.ConversationSpec{ID: conv,
				Participants: []sim.ParticipantSpec{{ID: part, Purpose: "customer",
					Attributes: maps.Clone(initial)}}}); err != nil {
				t.Fatal(err)
			}
			w := s.startWorkerWith(t, nil)
			s.post(t, flat("write-mode-1", conv, part, "+14155550123", "s1"))
			testsupport.Eventually(t, 10*time.Second, func() bool { return w.settled(t) == 1 },
				"the event settles")
			s.waitSettled(t, 5*time.Second)

			writes := s.sim.Writes()
			if len(writes) != 1 {
				t.Fatalf("%d writes, want 1: %+v", len(writes), writes)
			}
			if got := writes[0].Attributes; !maps.Equal(got, tc.sent) {
				t.Errorf("PATCH body %v, want %v", got, tc.sent)
			}
			if got := s.attributes(conv, part); !maps.Equal(got, tc.stored) {
				t.Errorf("stored after a replacing write: %v, want %v", got, tc.stored)
			}
			if o := w.outcomes(t); o["applied"] != 1 {
				t.Errorf("outcomes %v, want one applied", o)
			}
			if d := s.deadLetters(t); len(d) != 0 {
				t.Errorf("dead letters: %+v", d[0])
			}
		})
	}
}

// TestEndedConversationCountsAsStale: the event of a conversation that has ended is read,
// not written, not dead-lettered, and counted as stale, so operators can tell it from an
// event that was applied.
func TestEndedConversationCountsAsStale(t *testing.T) {
	s := start(t, sim.Options{}, nil)
	registerFixtures(t, s, 0)
	if _, err := s.sim.EndConversation(fixtureConv); err != nil {
		t.Fatal(err)
	}
	w := s.startWorkerWith(t, nil)
	s.post(t, flat("stale-1", fixtureConv, fixtureAgent, "+14155550123", "s1"))
	testsupport.Eventually(t, 10*time.Second, func() bool { return w.settled(t) == 1 },
		"the event settles")
	s.waitSettled(t, 5*time.Second)

	o := w.outcomes(t)
	if o["stale"] != 1 || len(o) != 1 {
		t.Errorf("outcomes %v, want exactly one stale", o)
	}
	if c := s.sim.Counts(); c.Writes != 0 || c.Reads == 0 {
		t.Errorf("ended conversation: %d writes, %d reads; want 0 writes after a read",
			c.Writes, c.Reads)
	}
	if d := s.deadLetters(t); len(d) != 0 {
		t.Errorf("stale event dead-lettered: %+v", d[0])
	}
}

// refuseWrites answers every attribute PATCH with a Genesys error instead of the
// simulator, and counts them, so a test can see that the worker did not retry.
func refuseWrites(status int, code, message, correlationID string,
	patches *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPatch || !strings.HasSuffix(r.URL.Path, "/attributes") {
				next.ServeHTTP(w, r)
				return
			}
			patches.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Inin-Correlation-Id", correlationID)
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"message": message, "code": code, "status": status,
				"contextId": correlationID, "details": []any{}, "errors": []any{},
			})
		})
	}
}

// TestGenesysRefusalIsDeadLetteredAtOnce: a 403, and a 400 that is not a disguised
// "not found", will not change on a retry: the event is dead-lettered at its first
// delivery, with what Genesys said and the correlation id its support asks for.
func TestGenesysRefusalIsDeadLetteredAtOnce(t *testing.T) {
	cases := []struct {
		name, code, message, reason string
		status                      int
	}{
		{name: "permission", status: http.StatusForbidden, code: "missing.permissions",
			message: "Unable to perform the requested action. You are missing the following " +
				"permission(s): [conversation:participant:wrapup]",
			reason: event.ReasonPermission},
		// The message mentions an attribute but not "not found", which would class it as
		// a participant not visible yet.
		{name: "validation", status: http.StatusBadRequest, code: "bad.request",
			message: "The attribute value for cust_tier is invalid.",
			reason:  event.ReasonPermanent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			corr := "corr-" + tc.name + "-7d1e"
			var patches atomic.Int32
			s := startLogged(t, sim.Options{}, nil, nil,
				refuseWrites(tc.status, tc.code, tc.message, corr, &patches))
			registerFixtures(t, s, 0)
			s.startWorker(t, nil)
			s.post(t, flat("refused-1", fixtureConv, fixtureAgent, "+14155550123", "s1"))

			testsupport.Eventually(t, 10*time.Second, func() bool {
				return len(s.deadLetters(t)) == 1
			}, "a dead letter for the refused write")
			s.waitSettled(t, 5*time.Second)
			d := s.deadLetters(t)[0]
			if d.Reason != tc.reason || d.Attempts != 1 || d.Event == nil ||
				d.Event.ID != "refused-1" {
				t.Errorf("dead letter: reason %q attempts %d event %+v; want %q after 1",
					d.Reason, d.Attempts, d.Event, tc.reason)
			}
			if e := d.Error; e.Status != tc.status || e.Code != tc.code ||
				e.CorrelationID != corr || e.Message != tc.message || e.Class != tc.reason {
				t.Errorf("dead letter error: %+v", e)
			}
			if n := patches.Load(); n != 1 {
				t.Errorf("%d PATCH calls, want 1: a refusal is not retried", n)
			}
			if n := s.sim.Counts().Writes; n != 0 {
				t.Errorf("%d writes reached the simulator", n)
			}
		})
	}
}

// TestStopHandsEventsInFlightBack: stopping a worker (as SIGTERM does) while Genesys is
// slow interrupts the events in flight once the grace period is over and hands them back
// to JetStream, so a worker started afterwards applies every one: nothing is lost,
// dead-lettered or left pending.
func TestStopHandsEventsInFlightBack(t *testing.T) {
	const n = 10
	// Two seconds per call is ten times the grace: no event can finish inside it.
	s := start(t, sim.Options{Faults: sim.Faults{Latency: 2 * time.Second}},
		func(c *config.Config) { c.Worker.ShutdownGrace = 200 * time.Millisecond })
	for i := range n {
		conv := fmt.Sprintf("stop-%d", i)
		if _, err := s.sim.RegisterConversation(sim.ConversationSpec{ID: conv,
			Participants: []sim.ParticipantSpec{{ID: "p", Purpose: "customer"}}}); err != nil {
			t.Fatal(err)
		}
		s.post(t, flat(fmt.Sprintf("stop-ev-%d", i), conv, "p",
			fmt.Sprintf("+1415556%04d", i), "s1"))
	}

	first := s.startWorkerWith(t, nil)
	// The simulator counts a read when it arrives, before the latency: every event is
	// then in flight in the first worker.
	testsupport.Eventually(t, 15*time.Second, func() bool { return s.sim.Counts().Reads >= n },
		"every event's read in flight")
	first.stop()

	o := first.outcomes(t)
	if o["interrupted"] == 0 {
		t.Fatalf("outcomes of the stopped worker %v: none interrupted", o)
	}
	// Each event was in flight, so each ended in the first worker exactly once: settled
	// (had its answer come early) or interrupted, never retried or dead-lettered.
	if got := int(o["interrupted"]) + first.settled(t); got != n || o["dead_lettered"] != 0 {
		t.Fatalf("outcomes of the stopped worker %v: want %d events, interrupted or settled",
			o, n)
	}

	second := s.startWorkerWith(t, nil)
	testsupport.Eventually(t, 30*time.Second, func() bool {
		for i := range n {
			if s.attributes(fmt.Sprintf("stop-%d", i), "p")["cust_tier"] !=
				fmt.Sprintf("tier-%d", i%3) {
				return false
			}
		}
		return true
	}, "every handed-back event applied by the second worker")
	s.waitSettled(t, 10*time.Second)
	if got := first.settled(t) + second.settled(t); got != n {
		t.Errorf("%d events settled across both workers, want %d", got, n)
	}
	if d := s.deadLetters(t); len(d) != 0 {
		t.Errorf("dead-lettered: %+v", d[0])
	}
}
