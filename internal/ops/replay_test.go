package ops_test

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/ops"
)

func TestReplayOne(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ev := newEvent("e1", convID(1), "user.start")
	ev.ReceivedAt = time.Date(2026, 3, 1, 10, 0, 0, 123, time.UTC)
	seq := f.storeDead(t, event.ReasonPermanent, ev)
	other := f.storeDead(t, event.ReasonPermanent, newEvent("e2", convID(1), "user.start"))

	res, err := f.svc.Replay(f.ctx, ops.Filter{Sequences: []uint64{seq}}, ops.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != 1 || res.Replayed != 1 || res.Deleted != 1 || !res.Complete {
		t.Fatalf("result: %+v", res)
	}
	msgs := f.events(t)
	if len(msgs) != 1 {
		t.Fatalf("%d events stored, want 1", len(msgs))
	}
	m := msgs[0]
	if got := m.Header.Get(event.HeaderMsgID); got != "e1:replay:"+uitoa(seq) {
		t.Errorf("message id %q", got)
	}
	if got := m.Header.Get(event.HeaderReplayOf); got != "e1" {
		t.Errorf("replay-of header %q", got)
	}
	back, err := event.Unmarshal(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("event changed:\n%+v\nwant\n%+v", back, ev)
	}
	s := f.cfg.Stream
	if m.Subject != event.Subject(s.SubjectPrefix, s.Partitions, convID(1)) {
		t.Errorf("subject %q", m.Subject)
	}
	page, err := f.svc.List(f.ctx, ops.ListOptions{})
	if err != nil || !slices.Equal(seqsOf(page.Entries), []uint64{other}) {
		t.Fatalf("left in the dead-letter stream: %v, %v", seqsOf(page.Entries), err)
	}
}

func TestReplayTwiceIsOneDelivery(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ev := newEvent("e1", convID(1), "user.start")
	seq := f.storeDead(t, event.ReasonPermanent, ev)
	// A replay whose deletion failed: the event is already stored under the replay's id.
	f.publishEvent(t, ev, ops.ReplayMsgID(ev.ID, seq))

	res, err := f.svc.Replay(f.ctx, ops.Filter{}, ops.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replayed != 1 || res.Duplicates != 1 || res.Deleted != 1 {
		t.Fatalf("result: %+v", res)
	}
	if n := len(f.events(t)); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
	if n := f.deadCount(t); n != 0 {
		t.Fatalf("%d entries left", n)
	}
}

func TestReplayFilteredDryRunAndRate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seqs := seedMixed(t, f)

	dry, err := f.svc.Replay(f.ctx, ops.Filter{ConversationID: convID(2)},
		ops.RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || dry.Matched != 2 || dry.Replayed != 2 || len(f.events(t)) != 0 ||
		f.deadCount(t) != 5 {
		t.Fatalf("dry run changed something or miscounted: %+v", dry)
	}

	var reports []ops.Result
	start := time.Now()
	res, err := f.svc.Replay(f.ctx, ops.Filter{ConversationID: convID(2)}, ops.RunOptions{
		Rate: 10, Progress: func(r ops.Result) { reports = append(reports, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two publishes at 10/s: the second waits a tenth of a second for its turn.
	if elapsed := time.Since(start); elapsed < 80*time.Millisecond {
		t.Errorf("two replays at 10/s took %s", elapsed)
	}
	if res.Matched != 2 || res.Replayed != 2 || res.Deleted != 2 || res.Total != 2 {
		t.Fatalf("result: %+v", res)
	}
	if len(reports) != 2 || reports[0].Replayed != 1 || reports[1].Replayed != 2 {
		t.Errorf("progress reports: %+v", reports)
	}
	page, err := f.svc.List(f.ctx, ops.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{seqs[0], seqs[1], seqs[4]}; !slices.Equal(seqsOf(page.Entries), want) {
		t.Fatalf("left: %v, want %v", seqsOf(page.Entries), want)
	}
}

func TestReplayAllLeavesUndecodable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seqs := seedMixed(t, f)
	res, err := f.svc.Replay(f.ctx, ops.Filter{}, ops.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != 5 || res.Replayed != 4 || res.Undecodable != 1 || res.Deleted != 4 {
		t.Fatalf("result: %+v", res)
	}
	page, err := f.svc.List(f.ctx, ops.ListOptions{})
	if err != nil || !slices.Equal(seqsOf(page.Entries), []uint64{seqs[4]}) {
		t.Fatalf("left: %v, %v", seqsOf(page.Entries), err)
	}
	ids := map[string]bool{}
	for _, m := range f.events(t) {
		ids[m.Header.Get(event.HeaderReplayOf)] = true
	}
	if len(ids) != 4 || !ids["e1"] || !ids["e4"] {
		t.Errorf("replayed events: %v", ids)
	}
}

func TestReplayBudgetStopsBetweenEntries(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seedMixed(t, f)
	res, err := f.svc.Replay(f.ctx, ops.Filter{Reason: event.ReasonPermanent},
		ops.RunOptions{Budget: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete || res.Replayed != 0 {
		t.Fatalf("result over budget: %+v", res)
	}
	res, err = f.svc.Replay(f.ctx, ops.Filter{Reason: event.ReasonPermanent}, ops.RunOptions{})
	if err != nil || !res.Complete || res.Replayed != 2 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
}

func TestDeleteAndPurge(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seqs := seedMixed(t, f)

	if _, err := f.svc.Delete(f.ctx, ops.Filter{}, ops.RunOptions{}); err == nil {
		t.Fatal("delete without a selection accepted")
	}
	res, err := f.svc.Delete(f.ctx, ops.Filter{Sequences: []uint64{seqs[1], 77}},
		ops.RunOptions{})
	if err != nil || res.Deleted != 1 || !slices.Equal(res.NotFound, []uint64{77}) {
		t.Fatalf("delete one: %+v, %v", res, err)
	}
	if err := f.svc.DeleteOne(f.ctx, seqs[1]); err == nil {
		t.Fatal("deleted a missing entry")
	}
	if err := f.svc.DeleteOne(f.ctx, seqs[4]); err != nil {
		t.Fatal(err)
	}

	dry, err := f.svc.Purge(f.ctx, ops.Filter{Reason: event.ReasonPermanent},
		ops.RunOptions{DryRun: true})
	if err != nil || dry.Deleted != 2 || f.deadCount(t) != 2+1 {
		t.Fatalf("dry purge: %+v, %v", dry, err)
	}
	res, err = f.svc.Purge(f.ctx, ops.Filter{Reason: event.ReasonPermanent}, ops.RunOptions{})
	if err != nil || res.Deleted != 2 || res.Matched != 2 {
		t.Fatalf("purge by reason: %+v, %v", res, err)
	}
	page, err := f.svc.List(f.ctx, ops.ListOptions{})
	if err != nil || !slices.Equal(seqsOf(page.Entries), []uint64{seqs[3]}) {
		t.Fatalf("left after purge by reason: %v, %v", seqsOf(page.Entries), err)
	}

	later := f.storeDead(t, event.ReasonAuth, newEvent("e9", convID(9), "user.start"))
	page, err = f.svc.List(f.ctx, ops.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err = f.svc.Purge(f.ctx, ops.Filter{Since: page.Entries[1].StoredAt}, ops.RunOptions{})
	if err != nil || res.Deleted != 1 {
		t.Fatalf("purge by time: %+v, %v", res, err)
	}
	if _, err := f.svc.Show(f.ctx, later); err == nil {
		t.Fatal("purged entry still there")
	}
	res, err = f.svc.Purge(f.ctx, ops.Filter{}, ops.RunOptions{})
	if err != nil || res.Deleted != 1 || f.deadCount(t) != 0 {
		t.Fatalf("purge all: %+v, %v", res, err)
	}
}

func TestRerunSkipsEventsInFlight(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var seqs []uint64
	publish := func(id, msgID string) {
		seqs = append(seqs, f.publishEvent(t, newEvent(id, convID(len(seqs)%2), "user.start"),
			msgID))
	}
	publish("ev-0", "ev-0")
	publish("ev-1", "ev-1")
	publish("ev-2", "ev-2")
	// An earlier replay of ev-2: the run publishes ev-2 once.
	publish("ev-2", "ev-2:replay:1")
	publish("ev-3", "ev-3")
	publish("ev-4", "ev-4")
	publish("ev-5", "ev-5")
	// Settle all but ev-4: the floor stops below it.
	f.settle(t, len(seqs), func(seq uint64) bool { return seq != seqs[5] })
	// ev-0 was dead-lettered and waits in the dead-letter stream.
	f.storeDeadAt(t, event.ReasonPermanent, newEvent("ev-0", convID(0), "user.start"), seqs[0])

	dry, err := f.svc.Rerun(f.ctx, ops.RerunFilter{All: true}, ops.RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.AckFloor != seqs[4] || dry.Matched != 7 || dry.Replayed != 3 || dry.Repeated != 1 ||
		dry.DeadLettered != 1 || dry.InFlight != 2 || len(f.events(t)) != 7 {
		t.Fatalf("dry run: %+v", dry)
	}

	res, err := f.svc.Rerun(f.ctx, ops.RerunFilter{All: true}, ops.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.events(t)
	if res.Replayed != 3 || len(msgs) != 10 || !res.Complete {
		t.Fatalf("run: %+v, %d events", res, len(msgs))
	}
	var got []string
	for _, m := range msgs[7:] {
		of := m.Header.Get(event.HeaderReplayOf)
		got = append(got, of)
		if m.Header.Get(event.HeaderMsgID) != ops.RerunMsgID(of, res.RunID) {
			t.Errorf("message id %q for %q", m.Header.Get(event.HeaderMsgID), of)
		}
	}
	if !slices.Equal(got, []string{"ev-1", "ev-2", "ev-3"}) {
		t.Errorf("re-run %v, want ev-1, ev-2, ev-3", got)
	}
	if !bytes.Equal(msgs[8].Data, msgs[2].Data) {
		t.Error("re-run body differs from the stored event")
	}
	// The same run again within the second is recognized as duplicates.
	again, err := f.svc.Rerun(f.ctx, ops.RerunFilter{All: true}, ops.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.RunID == res.RunID && again.Duplicates != again.Replayed {
		t.Errorf("repeated run in the same second: %+v", again)
	}
}

func TestRerunFilters(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var seqs []uint64
	for i := range 6 {
		typ := "user.start"
		if i%3 == 0 {
			typ = "customer.start"
		}
		ev := newEvent("ev-"+uitoa(uint64(i)), convID(i%2), typ)
		seqs = append(seqs, f.publishEvent(t, ev, ev.ID))
	}
	f.settle(t, 6, func(uint64) bool { return true })
	msgs := f.events(t)
	tests := []struct {
		name   string
		filter ops.RerunFilter
		want   int
	}{
		{"conversation", ops.RerunFilter{ConversationID: convID(1)}, 3},
		{"type", ops.RerunFilter{Type: "customer.start"}, 2},
		{"conversation and type", ops.RerunFilter{ConversationID: convID(0),
			Type: "customer.start"}, 1},
		{"since", ops.RerunFilter{Since: msgs[4].Time}, 2},
		{"range", ops.RerunFilter{Since: msgs[1].Time, Until: msgs[3].Time}, 2},
	}
	for _, tc := range tests {
		res, err := f.svc.Rerun(f.ctx, tc.filter, ops.RunOptions{DryRun: true})
		if err != nil || res.Replayed != tc.want || res.Matched != tc.want {
			t.Errorf("%s: %+v, %v; want %d", tc.name, res, err, tc.want)
		}
	}
	if _, err := f.svc.Rerun(f.ctx, ops.RerunFilter{}, ops.RunOptions{}); err == nil {
		t.Error("a re-run without a selection was accepted")
	}
	if len(f.events(t)) != len(seqs) {
		t.Error("a dry run published")
	}
}

func TestRerunWithoutConsumer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.publishEvent(t, newEvent("e1", convID(1), "user.start"), "e1")
	_, err := f.svc.Rerun(f.ctx, ops.RerunFilter{All: true}, ops.RunOptions{})
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("re-run without the workers' consumer: %v", err)
	}
}
