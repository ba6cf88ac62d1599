package chaos

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/event"
)

// simWrite is one entry of the simulator's write log, as its admin API shows it.
type simWrite struct {
	Time       time.Time         `json:"time"`
	Attributes map[string]string `json:"attributes"`
}

// simCounts are the simulator counts the suite reads.
type simCounts struct {
	Writes      int `json:"writes"`
	LostUpdates int `json:"lost_updates"`
	Stale       int `json:"stale_writes"`
	Overlapping int `json:"overlapping_writes"`
	Blind       int `json:"blind_writes"`
	Dropped     int `json:"write_log_dropped"`
}

// result is what became of a scenario's events once everything settled.
type result struct {
	events  []*sent
	writes  map[string][]time.Time // event id to the times it was written
	dead    map[string]string      // event id to its dead-letter reason
	counts  simCounts
	pending int
}

// drain waits until the consumer holds nothing and every accepted event is written or
// dead-lettered, or the timeout passes, and returns the last view of it.
func drain(t *testing.T, s *stack, evs []*sent, timeout time.Duration) *result {
	t.Helper()
	var res *result
	ok := waitFor(context.Background(), timeout, func() bool {
		next, err := observe(s, evs)
		if err != nil {
			return false
		}
		res = next
		return res.pending == 0 && len(res.lost()) == 0
	})
	if res == nil {
		t.Fatalf("could not read the outcome from the simulator and NATS")
	}
	if !ok {
		t.Logf("not settled within %s: %d events pending in the consumer", timeout, res.pending)
	}
	return res
}

// observe reads the simulator's write log and counts, and the dead-letter stream.
func observe(s *stack, evs []*sent) (*result, error) {
	res := &result{events: evs, writes: map[string][]time.Time{}, dead: map[string]string{}}
	var writes []simWrite
	if err := s.admin(http.MethodGet, "/admin/writes", nil, &writes); err != nil {
		return nil, err
	}
	for _, w := range writes {
		if id := w.Attributes["chaos_event"]; id != "" {
			res.writes[id] = append(res.writes[id], w.Time)
		}
	}
	if err := s.admin(http.MethodGet, "/admin/counts", nil, &res.counts); err != nil {
		return nil, err
	}
	if res.pending = s.pending(context.Background()); res.pending < 0 {
		return nil, fmt.Errorf("consumer info unavailable")
	}
	dead, err := s.deadLetters()
	if err != nil {
		return nil, err
	}
	for _, d := range dead {
		if d.Event != nil {
			res.dead[d.Event.ID] = d.Reason
		}
	}
	return res, nil
}

// deadLetters reads the whole dead-letter stream; none is an empty list.
func (s *stack) deadLetters() ([]*event.DeadLetter, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, deadStream)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil, nil
		}
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []*event.DeadLetter
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			return nil, fmt.Errorf("dead letter %d: %w", seq, err)
		}
		d, err := event.UnmarshalDeadLetter(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// lost lists the accepted events that were neither written nor dead-lettered.
func (res *result) lost() []*sent {
	var out []*sent
	for _, ev := range res.events {
		if ev.acceptedAt.IsZero() {
			continue
		}
		if _, w := res.writes[ev.id]; w {
			continue
		}
		if _, d := res.dead[ev.id]; d {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// row is one line of the suite's table.
type row struct {
	name                          string
	sent, accepted, applied, dead int
	lost, dupApplied, lostUpdates int
	blind                         int
	maxLag                        time.Duration
	unexpectedDead, badApplied    int
	noReason                      int
}

func (res *result) row(name string) row {
	r := row{name: name, sent: len(res.events), lost: len(res.lost()),
		lostUpdates: res.counts.LostUpdates, blind: res.counts.Blind}
	for _, ev := range res.events {
		if ev.acceptedAt.IsZero() {
			continue
		}
		r.accepted++
		times, written := res.writes[ev.id]
		reason, dead := res.dead[ev.id]
		switch {
		case written:
			r.applied++
			if len(times) > 1 {
				r.dupApplied++
			}
			r.maxLag = max(r.maxLag, times[0].Sub(ev.acceptedAt))
			if ev.bad {
				r.badApplied++
			}
		case dead:
			r.dead++
			if !ev.bad {
				r.unexpectedDead++
			}
			if reason == "" {
				r.noReason++
			}
		}
	}
	return r
}

// check fails the scenario unless nothing was lost.
func (res *result) check(t *testing.T, sc scenario, r row) {
	t.Helper()
	if lost := res.lost(); len(lost) > 0 {
		var ids []string
		for _, ev := range lost[:min(len(lost), 10)] {
			ids = append(ids, fmt.Sprintf("%s (posted %d times)", ev.id, ev.posts))
		}
		t.Errorf("%d accepted events neither applied nor dead-lettered, such as %s",
			len(lost), strings.Join(ids, ", "))
	}
	if r.lostUpdates != 0 {
		t.Errorf("the simulator counted %d lost updates (%d stale, %d overlapping)",
			r.lostUpdates, res.counts.Stale, res.counts.Overlapping)
	}
	// A blind write has no read by the same token before it, so the simulator cannot
	// tell whether it lost an update: only a token that changed between a worker's read
	// and its write makes one, and only the scenarios that change tokens may have any.
	if !sc.tokenChurn && r.blind > 0 {
		t.Errorf("%d writes without a read by their token: lost updates would go unseen",
			r.blind)
	}
	if r.noReason > 0 {
		t.Errorf("%d dead letters without a reason", r.noReason)
	}
	if r.unexpectedDead > 0 || r.badApplied > 0 {
		t.Errorf("%d events with good data dead-lettered, %d with unusable data written",
			r.unexpectedDead, r.badApplied)
	}
	if sc.noDuplicates && r.dupApplied > 0 {
		t.Errorf("%d events written more than once", r.dupApplied)
	}
	if res.counts.Dropped > 0 {
		t.Errorf("the simulator's write log dropped %d writes: the count of applied events "+
			"is incomplete", res.counts.Dropped)
	}
	// Senders retry until answered 2xx, as real ones do: an event never accepted means the
	// ingest did not come back from the fault.
	if r.accepted != r.sent {
		t.Errorf("%d of %d events never accepted, though their senders kept retrying",
			r.sent-r.accepted, r.sent)
	}
}

// formatTable renders the rows as a Markdown table.
func formatTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| scenario | sent | accepted | applied | dead-lettered | lost | " +
		"duplicates applied | lost updates | unchecked writes | max lag |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %s |\n", r.name,
			r.sent, r.accepted, r.applied, r.dead, r.lost, r.dupApplied, r.lostUpdates,
			r.blind, r.maxLag.Round(time.Millisecond))
	}
	return b.String()
}
