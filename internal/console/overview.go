package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// overviewBody is the answer of GET /admin/v1/overview.
type overviewBody struct {
	// Now is when the answer was made.
	Now time.Time `json:"now"`
	// IntervalSeconds is the time between two samples, WindowSeconds the span kept.
	IntervalSeconds float64 `json:"interval_seconds"`
	WindowSeconds   float64 `json:"window_seconds"`
	// Measured says which figures this process has: ingest (events in), worker (events
	// applied and dead-lettered), genesys (429s), lag (the consumer could be read).
	Measured measured `json:"measured"`
	// Points are the rates between consecutive samples, oldest first.
	Points []point `json:"points"`
	// Totals are the counts over the whole window.
	Totals totals `json:"totals"`
	// Lag is the consumer's latest pending counts; absent when it could not be read.
	Lag *lag `json:"lag,omitempty"`
	// DeadLetters is what the dead-letter stream holds now.
	DeadLetters reasonCounts `json:"dead_letters"`
}

type measured struct {
	Ingest  bool `json:"ingest"`
	Worker  bool `json:"worker"`
	Genesys bool `json:"genesys"`
	Lag     bool `json:"lag"`
}

// point is the rates over one interval, per second, ending at Time.
type point struct {
	Time         time.Time `json:"time"`
	In           float64   `json:"in_per_second"`
	Applied      float64   `json:"applied_per_second"`
	DeadLettered float64   `json:"dead_lettered_per_second"`
	RateLimited  float64   `json:"rate_limited_per_second"`
	// Lag is the consumer's lag at Time, in events; absent when it could not be read.
	Lag *uint64 `json:"lag,omitempty"`
}

// totals are counts over the window.
type totals struct {
	In           float64            `json:"in"`
	Applied      float64            `json:"applied"`
	DeadLettered map[string]float64 `json:"dead_lettered_by_reason"`
	RateLimited  float64            `json:"rate_limited"`
}

// reasonCounts counts dead-letter entries by reason.
type reasonCounts struct {
	Total    uint64            `json:"total"`
	ByReason map[string]uint64 `json:"by_reason"`
	// Error says why the stream could not be read; the counts are zero then.
	Error string `json:"error,omitempty"`
}

// overview answers GET overview.
func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	smps := c.sampler.samples()
	body := overviewBody{
		Now:             c.sampler.now().UTC(),
		IntervalSeconds: c.sampler.interval.Seconds(),
		WindowSeconds:   c.sampler.interval.Seconds() * float64(len(c.sampler.ring)),
		Points:          rates(smps),
		Totals:          windowTotals(smps),
	}
	if n := len(smps); n > 0 {
		last := smps[n-1]
		body.Measured = measured{Ingest: last.hasIngest, Worker: last.hasWorker,
			Genesys: last.hasGenesys, Lag: last.lag != nil}
		body.Lag = last.lag
	}
	counts, err := c.countReasons(r.Context(), "", time.Time{}, time.Time{})
	if err != nil {
		c.log.Debug("count dead letters for the overview", zap.Error(err))
		counts.Error = err.Error()
	}
	body.DeadLetters = counts
	writeJSON(w, http.StatusOK, body)
}

// rates turns consecutive samples into per-second rates. A counter that went down
// (a process restarted under the same registry) counts from zero.
func rates(smps []sample) []point {
	out := []point{}
	for i := 1; i < len(smps); i++ {
		a, b := smps[i-1], smps[i]
		secs := b.at.Sub(a.at).Seconds()
		if secs <= 0 {
			continue
		}
		p := point{
			Time:         b.at.UTC(),
			In:           delta(a.stored, b.stored) / secs,
			Applied:      delta(a.applied, b.applied) / secs,
			DeadLettered: sumDeltas(a.deadLettered, b.deadLettered) / secs,
			RateLimited:  delta(a.rateLimited, b.rateLimited) / secs,
		}
		if b.lag != nil {
			v := b.lag.total()
			p.Lag = &v
		}
		out = append(out, p)
	}
	return out
}

func windowTotals(smps []sample) totals {
	t := totals{DeadLettered: map[string]float64{}}
	for i := 1; i < len(smps); i++ {
		a, b := smps[i-1], smps[i]
		t.In += delta(a.stored, b.stored)
		t.Applied += delta(a.applied, b.applied)
		t.RateLimited += delta(a.rateLimited, b.rateLimited)
		for reason, v := range b.deadLettered {
			if d := delta(a.deadLettered[reason], v); d > 0 {
				t.DeadLettered[reason] += d
			}
		}
	}
	return t
}

func delta(before, after float64) float64 {
	if after < before {
		return after
	}
	return after - before
}

func sumDeltas(before, after map[string]float64) float64 {
	total := 0.0
	for k, v := range after {
		total += delta(before[k], v)
	}
	return total
}

// lag reads the workers' consumer's pending counts.
func (c *Console) lag(ctx context.Context) (*lag, error) {
	cons, err := c.js.Consumer(ctx, c.stream.Name, c.cons)
	if err != nil {
		return nil, fmt.Errorf("read consumer %s: %w", c.cons, err)
	}
	info := cons.CachedInfo()
	return &lag{Pending: info.NumPending, AckPending: info.NumAckPending}, nil
}

// countReasons counts the dead-letter entries by reason, of one conversation when conv
// is set, stored in [since, until) when either is set. Without a time range it is one
// request that lists the stream's subjects, one per reason and conversation, so its
// answer grows with the number of conversations among the dead letters; with a time
// range it reads every entry of each reason present.
func (c *Console) countReasons(ctx context.Context, conv string, since,
	until time.Time) (reasonCounts, error) {
	out := reasonCounts{ByReason: map[string]uint64{}}
	st, err := c.js.Stream(ctx, c.dead.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("open stream %s: %w", c.dead.Stream, err)
	}
	if conv == "" {
		conv = "*"
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(c.dead.SubjectPrefix+".*."+conv))
	if err != nil {
		return out, fmt.Errorf("stream info %s: %w", c.dead.Stream, err)
	}
	for subject, n := range info.State.Subjects {
		out.ByReason[reasonOf(subject)] += n
	}
	if !since.IsZero() || !until.IsZero() {
		if err := c.countInRange(ctx, &out, conv, since, until); err != nil {
			return reasonCounts{ByReason: map[string]uint64{}}, err
		}
	}
	for _, n := range out.ByReason {
		out.Total += n
	}
	return out, nil
}

// countInRange replaces each reason's count with the count of its entries stored in
// [since, until).
func (c *Console) countInRange(ctx context.Context, out *reasonCounts, conv string, since,
	until time.Time) error {
	reasons := make([]string, 0, len(out.ByReason))
	for reason := range out.ByReason {
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	if conv == "*" {
		conv = ""
	}
	for _, reason := range reasons {
		n, err := c.ops.Count(ctx, filterOf(reason, conv, since, until))
		if err != nil {
			return err
		}
		if n == 0 {
			delete(out.ByReason, reason)
			continue
		}
		out.ByReason[reason] = uint64(n) //nolint:gosec // a count is not negative
	}
	return nil
}

// reasonOf takes the reason token of <prefix>.<reason>.<conversation id>.
func reasonOf(subject string) string {
	tokens := strings.Split(subject, ".")
	if len(tokens) < 3 {
		return ""
	}
	return tokens[len(tokens)-2]
}
