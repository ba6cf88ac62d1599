package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/testsupport"
	"github.com/scriptsync/scriptsync/worker"
)

const (
	fixtureConv     = "5f0e6d9a-8c1b-4a7e-9d3f-2b6c8e1a4f70"
	fixtureAgent    = "a3c9e2b1-7d4f-4e8a-b6c5-1f2e3d4c5b6a"
	fixtureCustomer = "c0d1e2f3-a4b5-4c6d-8e7f-9a0b1c2d3e4f"
	ebConv          = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	ebCustomer      = "b4c5d6e7-f8a9-4b0c-9d1e-2f3a4b5c6d7e"
)

func registerFixtures(t *testing.T, s *stack, readiness time.Duration) {
	t.Helper()
	specs := []sim.ConversationSpec{
		{ID: fixtureConv, ReadinessDelay: readiness, Participants: []sim.ParticipantSpec{
			{ID: fixtureCustomer, Purpose: "customer",
				Attributes: map[string]string{"ivr_lang": "en-US"}},
			{ID: fixtureAgent, Purpose: "agent"},
		}},
		{ID: ebConv, ReadinessDelay: readiness, Participants: []sim.ParticipantSpec{
			{ID: ebCustomer, Purpose: "customer"},
		}},
	}
	for _, spec := range specs {
		if _, err := s.sim.RegisterConversation(spec); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFixtureEventsBecomeAttributes(t *testing.T) {
	s := start(t, sim.Options{}, nil)
	registerFixtures(t, s, 0)
	s.startWorker(t, nil)
	s.post(t, testsupport.Fixture(t, "events/notification-user-start.json"))
	s.post(t, testsupport.Fixture(t, "events/eventbridge-customer-start.json"))

	testsupport.Eventually(t, 10*time.Second, func() bool {
		a := s.attributes(fixtureConv, fixtureAgent)
		b := s.attributes(ebConv, ebCustomer)
		return a["cust_tier"] == "gold" && a["open_case"] == "CS-10482" &&
			b["cust_tier"] == "silver"
	}, "attributes written: agent %v, customer %v", s.attributes(fixtureConv, fixtureAgent),
		s.attributes(ebConv, ebCustomer))
	// The event names the agent: the customer's own attributes are left alone.
	if c := s.attributes(fixtureConv, fixtureCustomer); len(c) != 1 || c["ivr_lang"] != "en-US" {
		t.Errorf("customer attributes changed: %v", c)
	}
	s.waitSettled(t, 5*time.Second)
	if d := s.deadLetters(t); len(d) != 0 {
		t.Errorf("dead letters: %+v", d[0])
	}
	// A second delivery of the same values writes nothing.
	writes := s.sim.Counts().Writes
	s.post(t, flat("again-1", fixtureConv, fixtureAgent, "+14155550123", "s1"))
	s.waitSettled(t, 5*time.Second)
	if got := s.sim.Counts().Writes; got != writes {
		t.Errorf("unchanged values written again: %d writes, want %d", got, writes)
	}
}

func TestWriteLandsAfterReadiness(t *testing.T) {
	s := start(t, sim.Options{}, nil)
	registerFixtures(t, s, 2*time.Second)
	s.startWorker(t, nil)
	s.post(t, testsupport.Fixture(t, "events/notification-user-start.json"))
	posted := time.Now()

	testsupport.Eventually(t, 15*time.Second, func() bool {
		return s.attributes(fixtureConv, fixtureAgent)["cust_tier"] == "gold"
	}, "write lands once the conversation is visible")
	if n := s.sim.Counts().NotReady; n == 0 {
		t.Errorf("no not-ready answers seen: the readiness delay was not exercised")
	}
	conv, _ := s.sim.Conversation(fixtureConv)
	for _, w := range s.sim.Writes() {
		if w.Time.Before(conv.ReadyAt) {
			t.Errorf("write at %s before the conversation was ready at %s", w.Time, conv.ReadyAt)
		}
		// Not-ready retries come every 100-200 ms in the first seconds; a write a second
		// and a half late means they backed off like a Genesys outage.
		from := conv.ReadyAt
		if posted.After(from) {
			from = posted
		}
		if late := w.Time.Sub(from); late > 1500*time.Millisecond {
			t.Errorf("write landed %v after the conversation became visible", late)
		}
	}
	if d := s.deadLetters(t); len(d) != 0 {
		t.Errorf("dead-lettered: %+v", d[0])
	}
}

func TestNeverVisibleIsDeadLetteredAfterWindow(t *testing.T) {
	s := start(t, sim.Options{NotReadyStyle: sim.NotReady400}, func(c *config.Config) {
		c.Worker.Retry.NotReady.Window = 2 * time.Second
	})
	s.startWorker(t, nil)
	s.post(t, flat("ghost-1", "conv-never-seen", "p-1", "+14155550123", "s1"))

	testsupport.Eventually(t, 15*time.Second, func() bool { return len(s.deadLetters(t)) == 1 },
		"a dead letter for the invisible conversation")
	d := s.deadLetters(t)[0]
	if d.Reason != event.ReasonNotReady || d.Event == nil || d.Event.ID != "ghost-1" ||
		d.Attempts < 2 || !strings.Contains(d.Summary, "never became visible") {
		t.Fatalf("dead letter: %+v", d)
	}
	s.waitSettled(t, 5*time.Second)
}

func TestPermanentErrorIsDeadLetteredAtOnce(t *testing.T) {
	s := start(t, sim.Options{}, nil)
	registerFixtures(t, s, 0)
	s.startWorker(t, nil)
	// The record's 300-character value is over Genesys's limit: refused before any write.
	s.post(t, flat("too-long-1", fixtureConv, fixtureAgent, "+14155550666", "s1"))

	testsupport.Eventually(t, 10*time.Second, func() bool { return len(s.deadLetters(t)) == 1 },
		"a dead letter for the oversized value")
	d := s.deadLetters(t)[0]
	if d.Reason != event.ReasonPermanent || d.Attempts != 1 ||
		!strings.Contains(d.Error.Message, "cust_tier") {
		t.Fatalf("dead letter: %+v", d)
	}
	if n := s.sim.Counts().Writes; n != 0 {
		t.Fatalf("%d writes for a refused value", n)
	}
	s.waitSettled(t, 5*time.Second)
}

// An event is terminated only once its dead letter is stored: while the dead-letter
// stream refuses entries, the event stays with the consumer and comes back, and it lands
// in the stream once the stream takes entries again.
func TestEventStaysUntilItsDeadLetterIsStored(t *testing.T) {
	s := start(t, sim.Options{}, nil)
	registerFixtures(t, s, 0)
	s.startWorker(t, nil)
	s.post(t, flat("too-long-1", fixtureConv, fixtureAgent, "+14155550666", "s1"))
	testsupport.Eventually(t, 10*time.Second, func() bool { return len(s.deadLetters(t)) == 1 },
		"the first dead letter")

	// The operator capped the stream at what it holds, refusing anything new.
	limit := func(maxMsgs int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := s.conn.JS.Stream(ctx, s.cfg.Worker.DeadLetter.Stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cfg := info.Config
		cfg.MaxMsgs, cfg.Discard = maxMsgs, jetstream.DiscardNew
		if _, err := s.conn.JS.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	limit(1)
	reads := s.sim.Counts().Reads
	s.post(t, flat("too-long-2", fixtureConv, fixtureAgent, "+14155550666", "s2"))
	// Each attempt reads the conversation, and each refused entry brings the event back
	// a second later: two reads show that the refusal was met and retried.
	testsupport.Eventually(t, 15*time.Second, func() bool {
		return s.sim.Counts().Reads-reads >= 2
	}, "the event is attempted again after its dead letter was refused")
	if n := len(s.deadLetters(t)); n != 1 {
		t.Fatalf("%d dead letters in a stream capped at 1", n)
	}
	if n := s.pending(t); n != 1 {
		t.Fatalf("the consumer holds %d events; the one whose dead letter was refused "+
			"must still be there", n)
	}

	limit(-1)
	testsupport.Eventually(t, 10*time.Second, func() bool { return len(s.deadLetters(t)) == 2 },
		"the second dead letter once the stream takes entries")
	s.waitSettled(t, 5*time.Second)
	for _, d := range s.deadLetters(t) {
		if d.Reason != event.ReasonPermanent {
			t.Errorf("dead letter %s: reason %s", d.Event.ID, d.Reason)
		}
	}
}

func TestEndedConversationIsSkipped(t *testing.T) {
	s := start(t, sim.Options{}, nil)
	registerFixtures(t, s, 0)
	if _, err := s.sim.EndConversation(fixtureConv); err != nil {
		t.Fatal(err)
	}
	s.startWorker(t, nil)
	s.post(t, testsupport.Fixture(t, "events/notification-user-start.json"))
	s.waitSettled(t, 10*time.Second)
	if c := s.sim.Counts(); c.Writes != 0 || c.Reads == 0 {
		t.Fatalf("ended conversation: %d writes, %d reads; want 0 writes after a read",
			c.Writes, c.Reads)
	}
	if d := s.deadLetters(t); len(d) != 0 {
		t.Fatalf("stale event dead-lettered: %+v", d[0])
	}
}

func TestFaultStormsEndWithEverythingApplied(t *testing.T) {
	s := start(t, sim.Options{Faults: sim.Faults{ErrorRate: 0.5, RateLimitPerMinute: 15}},
		func(c *config.Config) {
			c.Worker.Retry.Transient.Initial = 50 * time.Millisecond
			c.Worker.Retry.Transient.Max = 300 * time.Millisecond
			c.Worker.Retry.RateLimitedMaxWait = time.Second
		})
	const n = 30
	for i := range n {
		conv := fmt.Sprintf("storm-%d", i)
		if _, err := s.sim.RegisterConversation(sim.ConversationSpec{ID: conv,
			Participants: []sim.ParticipantSpec{{ID: "p", Purpose: "customer"}}}); err != nil {
			t.Fatal(err)
		}
		s.post(t, flat(fmt.Sprintf("storm-ev-%d", i), conv, "p",
			fmt.Sprintf("+1415556%04d", i), "s1"))
	}
	s.startWorker(t, nil)
	// Each 429 pauses the worker for a second, so the storm takes a few seconds to show;
	// on a loaded machine more. The simulator admits 15 calls a minute and fails half of
	// those, so only a handful of 5xx answers can come in the first seconds.
	var seen sim.Counts
	testsupport.Eventually(t, 30*time.Second, func() bool {
		seen = s.sim.Counts()
		return seen.InjectedErrors >= 2 && seen.RateLimited > 3
	}, "the storm of 5xx and 429 answers: %+v", &seen)
	t.Logf("storm: %d injected errors, %d rate limited", seen.InjectedErrors, seen.RateLimited)
	if err := s.sim.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 30*time.Second, func() bool {
		for i := range n {
			if s.attributes(fmt.Sprintf("storm-%d", i), "p")["cust_tier"] !=
				fmt.Sprintf("tier-%d", i%3) {
				return false
			}
		}
		return true
	}, "every event applied after the storm")
	s.waitSettled(t, 10*time.Second)
	if d := s.deadLetters(t); len(d) != 0 {
		t.Fatalf("dead-lettered during a storm: %+v", d[0])
	}
}

// An event whose deliveries keep ending without an answer (a worker crashing on it, or
// outlasting the ack wait) is dead-lettered once it has been delivered more than
// max_deliver times; JetStream itself never stops delivering it, so it cannot vanish.
func TestUnansweredDeliveriesEndInADeadLetter(t *testing.T) {
	s := start(t, sim.Options{}, func(c *config.Config) {
		c.Worker.AttemptTimeout = 200 * time.Millisecond
		c.Worker.AckWait = 300 * time.Millisecond
		c.Worker.LeaseTTL = time.Second
		c.Worker.MaxDeliver = 10
	})
	registerFixtures(t, s, 0)
	s.post(t, testsupport.Fixture(t, "events/notification-user-start.json"))

	// Stand in for workers that take the event and die: pull it and never answer.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := s.conn.JS.CreateOrUpdateConsumer(ctx, s.cfg.Stream.Name,
		worker.ConsumerConfig(s.cfg.Worker, s.cfg.Stream))
	if err != nil {
		t.Fatal(err)
	}
	for delivered := 0; delivered < s.cfg.Worker.MaxDeliver; {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for range batch.Messages() {
			delivered++
		}
		if batch.Error() != nil && !errors.Is(batch.Error(), nats.ErrTimeout) {
			t.Fatal(batch.Error())
		}
	}

	s.startWorker(t, nil)
	testsupport.Eventually(t, 15*time.Second, func() bool { return len(s.deadLetters(t)) == 1 },
		"a dead letter for the event no worker answered")
	d := s.deadLetters(t)[0]
	if d.Reason != event.ReasonMaxDeliveries || d.Attempts <= s.cfg.Worker.MaxDeliver ||
		!strings.Contains(d.Summary, "without an answer") {
		t.Fatalf("dead letter: %+v", d)
	}
	if n := s.sim.Counts().Writes; n != 0 {
		t.Fatalf("%d writes for an event past its deliveries", n)
	}
	s.waitSettled(t, 5*time.Second)
}
