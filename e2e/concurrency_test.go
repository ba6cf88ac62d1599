package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// stepMapping writes the event's step besides the record's tier, so every event changes
// its participant's attributes and every event is a read-modify-write that can race.
func stepMapping(c *config.Config) {
	c.Lookup.RecordFields = []string{"cust_tier"}
	c.Lookup.Attributes = []config.LookupAttribute{
		{Name: "cust_tier", Field: "cust_tier"},
		{Name: "last_step", Event: "stepId"},
	}
	c.Worker.Concurrency = 64
}

// burst registers conversations of two participants each and posts rounds events to every
// participant, interleaved so events for one participant arrive together.
func burst(t *testing.T, s *stack, convs, rounds int) {
	t.Helper()
	for c := range convs {
		spec := sim.ConversationSpec{ID: fmt.Sprintf("race-%d", c)}
		for p := range 2 {
			spec.Participants = append(spec.Participants,
				sim.ParticipantSpec{ID: fmt.Sprintf("p%d", p), Purpose: "agent"})
		}
		if _, err := s.sim.RegisterConversation(spec); err != nil {
			t.Fatal(err)
		}
	}
	for r := range rounds {
		for c := range convs {
			for p := range 2 {
				s.post(t, flat(fmt.Sprintf("race-%d-%d-%d", c, p, r), fmt.Sprintf("race-%d", c),
					fmt.Sprintf("p%d", p), fmt.Sprintf("+1415556%04d", c), fmt.Sprintf("step-%d", r)))
			}
		}
	}
}

func TestTwoWorkersLoseNoUpdates(t *testing.T) {
	s := start(t, sim.Options{Faults: sim.Faults{Latency: 2 * time.Millisecond,
		Jitter: 8 * time.Millisecond}}, stepMapping)
	const convs, rounds = 10, 10 // 200 events for 20 participants
	burst(t, s, convs, rounds)
	s.startWorker(t, nil)
	s.startWorker(t, nil)
	s.waitSettled(t, 60*time.Second)

	c := s.sim.Counts()
	if c.LostUpdates != 0 || c.StaleWrites != 0 || c.OverlappingWrites != 0 {
		t.Fatalf("lost updates: %+v", c)
	}
	if c.Writes < convs*2 {
		t.Fatalf("only %d writes for %d participants", c.Writes, convs*2)
	}
	for conv := range convs {
		for p := range 2 {
			a := s.attributes(fmt.Sprintf("race-%d", conv), fmt.Sprintf("p%d", p))
			if a["cust_tier"] != fmt.Sprintf("tier-%d", conv%3) || a["last_step"] == "" {
				t.Errorf("race-%d/p%d: %v", conv, p, a)
			}
		}
	}
	if d := s.deadLetters(t); len(d) != 0 {
		t.Fatalf("dead letters: %+v", d[0])
	}
}

// Without a shared lease the same load must show lost updates, or the test above proves
// nothing about the lease.
func TestLostUpdatesAreDetectedWithoutSharedLeases(t *testing.T) {
	s := start(t, sim.Options{Faults: sim.Faults{Latency: 2 * time.Millisecond,
		Jitter: 8 * time.Millisecond}}, stepMapping)
	burst(t, s, 10, 10)
	s.startWorker(t, func(c *config.Config) { c.Worker.LeaseBucket = "leases_a" })
	s.startWorker(t, func(c *config.Config) { c.Worker.LeaseBucket = "leases_b" })
	s.waitSettled(t, 60*time.Second)
	if c := s.sim.Counts(); c.LostUpdates == 0 {
		t.Fatalf("two workers with separate leases raced without a detected lost update: %+v", c)
	}
}

func TestKilledWorkerLosesNothing(t *testing.T) {
	s := start(t, sim.Options{Faults: sim.Faults{Latency: time.Second}}, func(c *config.Config) {
		c.Worker.AttemptTimeout = 3 * time.Second
		c.Worker.AckWait = 4 * time.Second
		c.Worker.LeaseTTL = 4 * time.Second
	})
	const n = 20
	for i := range n {
		conv := fmt.Sprintf("kill-%d", i)
		if _, err := s.sim.RegisterConversation(sim.ConversationSpec{ID: conv,
			Participants: []sim.ParticipantSpec{{ID: "p", Purpose: "customer"}}}); err != nil {
			t.Fatal(err)
		}
		s.post(t, flat(fmt.Sprintf("kill-ev-%d", i), conv, "p", fmt.Sprintf("+1415556%04d", i),
			"s1"))
	}
	first := s.startWorkerHandle(t)
	testsupport.Eventually(t, 10*time.Second, func() bool { return s.sim.Counts().APIRequests > 0 },
		"the first worker is mid-flight")
	// Cut the worker off from NATS with its events unacknowledged, as a SIGKILL would.
	first.kill()
	second := s.startWorkerWith(t, nil)
	testsupport.Eventually(t, 30*time.Second, func() bool {
		for i := range n {
			if s.attributes(fmt.Sprintf("kill-%d", i), "p")["cust_tier"] == "" {
				return false
			}
		}
		return true
	}, "every event applied after the kill")
	s.waitSettled(t, 15*time.Second)
	// The killed worker could not acknowledge anything: every event came back to the
	// second one after the ack wait.
	if got := second.settled(t); got < n {
		t.Fatalf("the second worker settled %d events, want all %d", got, n)
	}
	if d := s.deadLetters(t); len(d) != 0 {
		t.Fatalf("dead letters: %+v", d[0])
	}
}
