package genesys_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/genesys"
)

// TestLimiterHoldsProcessUnderRate: however many goroutines call, the calls that reach the
// server in any window fit the limiter's burst plus its rate over that window.
func TestLimiterHoldsProcessUnderRate(t *testing.T) {
	t.Parallel()
	const perMinute, burst, total = 1200, 5, 45
	fs := newFixtureServer(t, bodyAnswer(http.StatusAccepted, ""))
	c, _ := testClient(t, fs.URL, func(cfg *genesys.Config, _ *genesys.Options) {
		cfg.RatePerMinute, cfg.Burst = perMinute, burst
	})
	ctx := ctxT(t)
	var left atomic.Int64
	left.Store(total)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := c.PatchParticipantAttributes(ctx, "c", "p", "",
					map[string]string{"a": "b"}); err != nil {
					t.Errorf("patch: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	arrivals := fs.arrivalTimes()
	if len(arrivals) != total {
		t.Fatalf("%d calls arrived, want %d", len(arrivals), total)
	}
	perSecond := float64(perMinute) / 60
	// Check every window that starts at an arrival: the calls in it are at most the burst
	// plus what the rate refills over the window (+2 for calls that overtake each other
	// between the limiter and the server).
	for i, start := range arrivals {
		for j := i; j < len(arrivals); j++ {
			window := arrivals[j].Sub(start).Seconds()
			allowed := float64(burst) + perSecond*window + 2
			if n := float64(j - i + 1); n > allowed {
				t.Fatalf("%v calls within %.3fs; the limiter allows %.1f", n, window, allowed)
			}
		}
	}
}

// TestRateLimitPausesEveryCaller: after one goroutine gets a 429, no call of the process
// reaches Genesys before Retry-After has passed, including calls already waiting in the
// limiter.
func TestRateLimitPausesEveryCaller(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var limitedAt time.Time
	fs := newFixtureServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := limitedAt.IsZero()
		if first {
			limitedAt = time.Now()
		}
		mu.Unlock()
		if first {
			fixtureAnswer(t, http.StatusTooManyRequests, "error-429.json", "Retry-After",
				"1")(w, r)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	// Two calls a second, one at a time: the later goroutines are already waiting in the
	// limiter when the 429 arrives.
	c, reg := testClient(t, fs.URL, func(cfg *genesys.Config, _ *genesys.Options) {
		cfg.RatePerMinute, cfg.Burst = 120, 1
	})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var limited atomic.Int64
	for range 4 {
		wg.Go(func() {
			err := c.PatchParticipantAttributes(ctx, "c", "p", "", map[string]string{"a": "b"})
			switch genesys.Classify(err) {
			case genesys.ClassNone:
			case genesys.ClassRateLimited:
				limited.Add(1)
			default:
				t.Errorf("patch: %v", err)
			}
		})
	}
	wg.Wait()

	if limited.Load() != 1 {
		t.Fatalf("%d callers saw the 429, want 1", limited.Load())
	}
	arrivals := fs.arrivalTimes()
	if len(arrivals) != 4 {
		t.Fatalf("%d calls arrived, want 4", len(arrivals))
	}
	resume := limitedAt.Add(time.Second)
	for _, at := range arrivals[1:] {
		if at.Before(resume) {
			t.Errorf("a call arrived %v after the 429, inside its 1s Retry-After",
				at.Sub(limitedAt))
		}
	}
	if v := counterValue(t, reg, "test_genesys_rate_limited_total", nil); v != 1 {
		t.Errorf("rate_limited_total %v", v)
	}
}

func TestRateLimiterPause(t *testing.T) {
	t.Parallel()
	l := genesys.NewRateLimiter(600_000, 100)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Pause(time.Hour)
	l.Pause(time.Millisecond) // a shorter pause does not cut the longer one short
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait during a pause: %v", err)
	}
	perSecond, burst := genesys.NewRateLimiter(0, 0).Rate()
	if perSecond != 1.0/60 || burst != 1 {
		t.Errorf("floor rate %v burst %d", perSecond, burst)
	}
}

// sharedLimiter stands in for a limiter shared between processes, to show the seam.
type sharedLimiter struct {
	waits, pauses atomic.Int64
}

var _ genesys.Limiter = (*sharedLimiter)(nil)

func (s *sharedLimiter) Wait(context.Context) error { s.waits.Add(1); return nil }
func (s *sharedLimiter) Pause(time.Duration)        { s.pauses.Add(1) }

func TestCustomLimiter(t *testing.T) {
	t.Parallel()
	fs := newFixtureServer(t, fixtureAnswer(t, http.StatusTooManyRequests, "error-429.json"))
	lim := &sharedLimiter{}
	c, _ := testClient(t, fs.URL, func(_ *genesys.Config, o *genesys.Options) {
		o.Limiter = lim
	})
	_, _ = c.GetConversation(ctxT(t), "c")
	if lim.waits.Load() != 1 || lim.pauses.Load() != 1 {
		t.Errorf("waits %d pauses %d", lim.waits.Load(), lim.pauses.Load())
	}
}

// TestLimiterRefusalIsRateLimited: a call the limiter cannot fit before the caller's
// deadline is never sent, and says "rate limited", not "Genesys failed", so the caller
// backs off without spending its budget for failures.
func TestLimiterRefusalIsRateLimited(t *testing.T) {
	t.Parallel()
	fs := newFixtureServer(t, bodyAnswer(http.StatusAccepted, ""))
	c, _ := testClient(t, fs.URL, func(cfg *genesys.Config, _ *genesys.Options) {
		cfg.RatePerMinute, cfg.Burst = 1, 1
	})
	attrs := map[string]string{"a": "b"}
	if err := c.PatchParticipantAttributes(ctxT(t), "c", "p", "", attrs); err != nil {
		t.Fatalf("first call: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
	defer cancel()
	err := c.PatchParticipantAttributes(ctx, "c", "p", "", attrs)
	var limited *genesys.LimitedError
	if !errors.As(err, &limited) || genesys.Classify(err) != genesys.ClassRateLimited {
		t.Fatalf("second call within the minute: %v (class %s), want rate limited", err,
			genesys.Classify(err))
	}
	if n := len(fs.arrivalTimes()); n != 1 {
		t.Fatalf("%d calls reached the server, want 1", n)
	}
}
