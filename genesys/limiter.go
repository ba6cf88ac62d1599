package genesys

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces the calls of a Client. Implementations must be safe for concurrent use.
//
// The built-in RateLimiter keeps one process under its budget. A fleet that must stay
// under one budget together plugs a Limiter backed by a shared store in here through
// Options.Limiter, without changing the client: package redislimit is one.
type Limiter interface {
	// Wait blocks until one call may be sent, or ctx is done (its error is returned).
	Wait(ctx context.Context) error
	// Pause makes every caller of Wait, those already waiting included, wait at least d
	// from now. The client calls it on a 429, because the limit belongs to the token that
	// every goroutine shares: one goroutine's 429 is everyone's.
	Pause(d time.Duration)
}

// RateLimiter is the process-local Limiter: a token bucket plus a pause deadline.
type RateLimiter struct {
	bucket *rate.Limiter

	mu    sync.Mutex
	until time.Time // no call may go before this instant
}

var _ Limiter = (*RateLimiter)(nil)

// NewRateLimiter allows perMinute calls a minute on average and burst at once. Values
// below 1 are raised to 1.
func NewRateLimiter(perMinute, burst int) *RateLimiter {
	perMinute, burst = max(perMinute, 1), max(burst, 1)
	return &RateLimiter{bucket: rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)}
}

// Wait waits out any pause, then for a slot in the bucket, then for any pause that began
// while it waited for the slot: a 429 seen meanwhile must hold this call back too.
func (l *RateLimiter) Wait(ctx context.Context) error {
	if err := l.WaitPause(ctx); err != nil {
		return err
	}
	if err := l.bucket.Wait(ctx); err != nil {
		return err
	}
	return l.WaitPause(ctx)
}

// Pause holds every caller until d from now, unless an earlier pause already reaches
// further.
func (l *RateLimiter) Pause(d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d)
	l.mu.Lock()
	if until.After(l.until) {
		l.until = until
	}
	l.mu.Unlock()
}

// Rate returns the average pace in calls a second and the burst.
func (l *RateLimiter) Rate() (perSecond float64, burst int) {
	return float64(l.bucket.Limit()), l.bucket.Burst()
}

// WaitPause waits out the pause alone, without taking a slot; a Limiter that keeps its
// budget elsewhere still honours this process's pauses through it. It loops because a
// pause may be extended while a caller sleeps.
func (l *RateLimiter) WaitPause(ctx context.Context) error {
	for {
		l.mu.Lock()
		d := time.Until(l.until)
		l.mu.Unlock()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
