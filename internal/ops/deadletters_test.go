package ops_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/ops"
)

// seedMixed stores five entries: two conversations, three reasons, one undecodable.
func seedMixed(t *testing.T, f *fixture) []uint64 {
	t.Helper()
	return []uint64{
		f.storeDead(t, event.ReasonPermanent, newEvent("e1", convID(1), "user.start")),
		f.storeDead(t, event.ReasonNotReady, newEvent("e2", convID(1), "user.start")),
		f.storeDead(t, event.ReasonPermanent, newEvent("e3", convID(2), "customer.start")),
		f.storeDead(t, event.ReasonBadData, newEvent("e4", convID(2), "user.start")),
		f.storeDead(t, event.ReasonUndecodable, nil),
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seqs := seedMixed(t, f)
	all, err := f.svc.List(f.ctx, ops.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(all.Entries); !slices.Equal(got, seqs) {
		t.Fatalf("all entries: %v, want %v", got, seqs)
	}
	e := all.Entries
	tests := []struct {
		name   string
		filter ops.Filter
		want   []uint64
	}{
		{"reason", ops.Filter{Reason: event.ReasonPermanent}, []uint64{seqs[0], seqs[2]}},
		{"conversation", ops.Filter{ConversationID: convID(2)}, []uint64{seqs[2], seqs[3]}},
		{"both", ops.Filter{Reason: event.ReasonPermanent, ConversationID: convID(2)},
			[]uint64{seqs[2]}},
		{"since", ops.Filter{Since: e[3].StoredAt}, []uint64{seqs[3], seqs[4]}},
		{"until", ops.Filter{Until: e[1].StoredAt}, []uint64{seqs[0]}},
		{"range", ops.Filter{Since: e[1].StoredAt, Until: e[3].StoredAt},
			[]uint64{seqs[1], seqs[2]}},
		{"sequences", ops.Filter{Sequences: []uint64{seqs[3], seqs[0], 999}},
			[]uint64{seqs[0], seqs[3]}},
		{"sequences and reason", ops.Filter{Sequences: []uint64{seqs[0], seqs[1]},
			Reason: event.ReasonNotReady}, []uint64{seqs[1]}},
		{"nothing", ops.Filter{ConversationID: "conv-none"}, []uint64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := f.svc.List(f.ctx, ops.ListOptions{Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			if got := seqsOf(page.Entries); !slices.Equal(got, tc.want) {
				t.Errorf("entries %v, want %v", got, tc.want)
			}
			n, err := f.svc.Count(f.ctx, tc.filter)
			if err != nil || n != len(tc.want) {
				t.Errorf("count %d, %v; want %d", n, err, len(tc.want))
			}
		})
	}
}

func TestListPagesAndSummaries(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seqs := seedMixed(t, f)
	var got []uint64
	after := uint64(0)
	for range 10 {
		page, err := f.svc.List(f.ctx, ops.ListOptions{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, seqsOf(page.Entries)...)
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	if !slices.Equal(got, seqs) {
		t.Fatalf("paged: %v, want %v", got, seqs)
	}
	page, err := f.svc.List(f.ctx, ops.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := page.Entries[0]
	if first.Reason != event.ReasonPermanent || first.EventID != "e1" ||
		first.ConversationID != convID(1) || first.Status != 400 || first.Code != "bad.request" ||
		first.CorrelationID == "" || first.Attempts != 3 || first.EventSequence == 0 {
		t.Errorf("entry summary: %+v", first)
	}
	last := page.Entries[4]
	if last.Reason != event.ReasonUndecodable || last.EventID != "" {
		t.Errorf("undecodable summary: %+v", last)
	}
}

func TestListBadFilter(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, bad := range []ops.Filter{
		{Reason: "nope"},
		{ConversationID: "a.b"},
		{ConversationID: "*"},
		{Sequences: []uint64{0}},
	} {
		if _, err := f.svc.List(f.ctx, ops.ListOptions{Filter: bad}); err == nil {
			t.Errorf("filter %+v accepted", bad)
		}
	}
}

func TestListWithoutStream(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if err := f.js.DeleteStream(f.ctx, f.cfg.Worker.DeadLetter.Stream); err != nil {
		t.Fatal(err)
	}
	page, err := f.svc.List(f.ctx, ops.ListOptions{})
	if err != nil || len(page.Entries) != 0 {
		t.Fatalf("list without a stream: %+v, %v", page, err)
	}
	if _, err := f.svc.Show(f.ctx, 1); !errors.Is(err, ops.ErrNotFound) {
		t.Fatalf("show without a stream: %v", err)
	}
	res, err := f.svc.Replay(f.ctx, ops.Filter{Sequences: []uint64{4}}, ops.RunOptions{})
	if err != nil || !slices.Equal(res.NotFound, []uint64{4}) {
		t.Fatalf("replay without a stream: %+v, %v", res, err)
	}
}

func TestShowAndMask(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seq := f.storeDead(t, event.ReasonPermanent, newEvent("e1", convID(1), "user.start"))
	d, err := f.svc.Show(f.ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	if d.DeadLetter == nil || d.DeadLetter.Event.Fields["ani"] != "tel:+14155550123" {
		t.Fatalf("stored entry: %+v", d.DeadLetter)
	}
	m := ops.Masked(d.DeadLetter)
	fields := m.Event.Fields
	if fields["ani"] != "**************23" || fields["callback"] != "***********50" ||
		fields["stepId"] != "s1" || m.Event.Raw != nil {
		t.Errorf("masked event: %+v", m.Event)
	}
	if d.DeadLetter.Event.Fields["ani"] != "tel:+14155550123" {
		t.Error("masking changed the original")
	}
	if _, err := f.svc.Show(f.ctx, seq+10); !errors.Is(err, ops.ErrNotFound) {
		t.Errorf("missing entry: %v", err)
	}
	bad := f.storeRaw(t, event.ReasonPermanent, newEvent("x", convID(3), "t"),
		[]byte("not json"), "raw-1")
	d, err = f.svc.Show(f.ctx, bad)
	if err != nil || !d.Undecodable || d.Reason != event.ReasonPermanent ||
		d.DeadLetter != nil {
		t.Errorf("undecodable entry: %+v, %v", d, err)
	}
	if ops.Masked(nil) != nil {
		t.Error("masking nil")
	}
}
