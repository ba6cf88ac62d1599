package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// Result counts what a replay, delete, purge or re-run did. The same value, updated as
// the operation goes, is what progress callbacks receive.
type Result struct {
	// DryRun is true when nothing was published or deleted; the counts then say what
	// would have been.
	DryRun bool `json:"dry_run,omitempty"`
	// Total is how many entries or events the subject filter selected when the
	// operation began, before times and the other checks: an upper bound on Matched.
	Total uint64 `json:"total"`
	// Matched is how many entries or events the whole filter selected so far.
	Matched int `json:"matched"`
	// Replayed is how many events were published and confirmed by the event stream.
	// Duplicates is how many of those the stream already held under the same message
	// id (a replay repeated within the stream's duplicates window); they are not
	// delivered again.
	Replayed   int `json:"replayed,omitempty"`
	Duplicates int `json:"duplicates,omitempty"`
	// Deleted is how many dead-letter entries were removed.
	Deleted int `json:"deleted,omitempty"`
	// Undecodable counts entries or events skipped because they hold no readable
	// event; a dead letter of that kind can only be deleted.
	Undecodable int `json:"undecodable,omitempty"`
	// InFlight counts events a re-run skipped because the workers have not settled
	// them yet; DeadLettered those it skipped because they wait in the dead-letter
	// stream (replay those with the dead-letter commands); Repeated those it skipped
	// because the run had already published an event with the same id.
	InFlight     int `json:"in_flight,omitempty"`
	DeadLettered int `json:"dead_lettered,omitempty"`
	Repeated     int `json:"repeated,omitempty"`
	// NotFound lists requested sequences the stream does not hold (any more).
	NotFound []uint64 `json:"not_found,omitempty"`
	// AckFloor is the workers' acknowledgement floor a re-run read: every event at or
	// below this stream sequence is settled.
	AckFloor uint64 `json:"ack_floor,omitempty"`
	// RunID is the unix time in seconds a re-run's message ids carry.
	RunID string `json:"run_id,omitempty"`
	// Complete is false when the operation stopped before the end of its selection
	// because its time budget ran out; run it again to go on.
	Complete bool `json:"complete"`
}

// RunOptions are what every changing operation takes beside its selection.
type RunOptions struct {
	// DryRun counts what would be done and changes nothing.
	DryRun bool
	// Rate caps how many events are published per second; 0 means no cap. Deletions
	// are not rate-limited.
	Rate float64
	// Budget stops the operation between two items once this much time has passed,
	// with Complete false; 0 means no limit. An item under way is always finished.
	Budget time.Duration
	// Progress, when set, is called after every item with the counts so far, from the
	// goroutine running the operation.
	Progress func(Result)
}

// runner carries one operation's pacing and reporting.
type runner struct {
	opts    RunOptions
	limiter *rate.Limiter
	stopAt  time.Time
	res     Result
}

func newRunner(o RunOptions, now time.Time) (*runner, error) {
	if o.Rate < 0 {
		return nil, errors.New("rate must not be negative")
	}
	r := &runner{opts: o, res: Result{DryRun: o.DryRun}}
	if o.Rate > 0 && !o.DryRun {
		r.limiter = rate.NewLimiter(rate.Limit(o.Rate), 1)
	}
	if o.Budget > 0 {
		r.stopAt = now.Add(o.Budget)
	}
	return r, nil
}

// pace waits for the rate limit before a publish.
func (r *runner) pace(ctx context.Context) error {
	if r.limiter == nil {
		return nil
	}
	if err := r.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("wait for the rate limit: %w", err)
	}
	return nil
}

// overBudget reports whether the operation must stop before its next item.
func (r *runner) overBudget(now time.Time) bool {
	return !r.stopAt.IsZero() && now.After(r.stopAt)
}

func (r *runner) total(n uint64) {
	r.res.Total = n
}

func (r *runner) report() {
	if r.opts.Progress != nil {
		r.opts.Progress(r.res)
	}
}

// finish marks the result complete unless the budget stopped it.
func (r *runner) finish(err error, stopped bool) (Result, error) {
	r.res.Complete = err == nil && !stopped
	return r.res, err
}
