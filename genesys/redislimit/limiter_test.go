package redislimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/scriptsync/scriptsync/genesys/redislimit"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// newPair returns two limiters on one key, as two worker processes sharing a budget would
// hold them. They share a Redis client, which changes nothing for what they share.
func newPair(t *testing.T, perMinute, burst int) (a, b *redislimit.Limiter) {
	t.Helper()
	rc, prefix := testsupport.Redis(t)
	key := prefix + "limit"
	for _, l := range []**redislimit.Limiter{&a, &b} {
		lim, err := redislimit.New(rc, redislimit.Options{
			Key: key, PerMinute: perMinute, Burst: burst, Timeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		*l = lim
	}
	return a, b
}

func waitWithin(l *redislimit.Limiter, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return l.Wait(ctx)
}

// The budget is the fleet's: what one process spent, the other cannot spend again.
func TestBudgetIsShared(t *testing.T) {
	a, b := newPair(t, 1, 5) // a burst of five, then one call a minute
	for i := range 5 {
		if err := waitWithin(a, time.Second); err != nil {
			t.Fatalf("call %d of the burst: %v", i+1, err)
		}
	}
	if err := waitWithin(b, 500*time.Millisecond); err == nil {
		t.Fatal("the second process got a slot although the first spent the whole burst")
	}
	if err := waitWithin(a, 500*time.Millisecond); err == nil {
		t.Fatal("the first process got a sixth slot out of a burst of five")
	}
}

// A refused Wait reserves nothing: a caller whose deadline is too near does not push
// every later caller further back.
func TestRefusedWaitReservesNothing(t *testing.T) {
	a, b := newPair(t, 120, 1) // one call every 500 ms
	if err := waitWithin(a, time.Second); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := waitWithin(b, 50*time.Millisecond); err == nil {
			t.Fatal("a slot 500 ms away was granted to a caller with 50 ms left")
		}
	}
	start := time.Now()
	if err := waitWithin(b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// Twenty reservations would have put this slot ten seconds away.
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("waited %v for the next slot; refused calls reserved slots", waited)
	}
}

// Callers on both sides together never go faster than the shared rate.
func TestConcurrentCallersKeepTheRate(t *testing.T) {
	const perMinute, burst = 1200, 1 // 20 a second
	a, b := newPair(t, perMinute, burst)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	var calls int
	var wg sync.WaitGroup
	start := time.Now()
	for _, l := range []*redislimit.Limiter{a, b, a, b, a, b, a, b} {
		wg.Go(func() {
			for l.Wait(ctx) == nil {
				mu.Lock()
				calls++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	allowed := burst + int(elapsed.Seconds()*perMinute/60) + 1
	if calls > allowed {
		t.Fatalf("%d calls in %v; the shared budget allows %d", calls, elapsed, allowed)
	}
	if calls < 10 {
		t.Fatalf("only %d calls in %v at 20 a second: the limiter holds callers back "+
			"for nothing", calls, elapsed)
	}
}

// A 429 seen by one process holds the other too.
func TestPauseHoldsEveryProcess(t *testing.T) {
	a, b := newPair(t, 6000, 10)
	const pause = 600 * time.Millisecond
	paused := time.Now()
	a.Pause(pause)
	err := waitWithin(b, 200*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait during the other process's pause: %v, want the deadline", err)
	}
	if err := waitWithin(b, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Redis counts in whole milliseconds.
	if waited := time.Since(paused); waited < pause-2*time.Millisecond {
		t.Fatalf("Wait returned %v after the pause began, inside its %v", waited, pause)
	}
	// A shorter pause does not cut a longer one short: b's own pause is 1 ms, so only
	// the shared one can hold it.
	a.Pause(time.Minute)
	b.Pause(time.Millisecond)
	if err := waitWithin(b, 300*time.Millisecond); err == nil {
		t.Fatal("a 1 ms pause replaced a pause of a minute")
	}
}

// With Redis gone, each process paces itself and keeps its own pauses, and the failures
// are counted.
func TestRedisDownFallsBackToLocalPacing(t *testing.T) {
	rc := redis.NewClient(&redis.Options{
		Addr: testsupport.ClosedAddr(t), MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	t.Cleanup(func() { _ = rc.Close() })
	reg := prometheus.NewRegistry()
	l, err := redislimit.New(rc, redislimit.Options{
		Key: "unreachable", PerMinute: 6000, Burst: 2, Timeout: 200 * time.Millisecond,
		Registerer: reg, Namespace: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitWithin(l, 2*time.Second); err != nil {
		t.Fatalf("Wait with Redis down: %v; want the local budget's slot", err)
	}
	l.Pause(time.Minute)
	if err := waitWithin(l, 500*time.Millisecond); err == nil {
		t.Fatal("a pause was lost because Redis is down")
	}
	if n := counterValue(t, reg, "test_genesys_shared_limiter_errors_total"); n < 2 {
		t.Fatalf("%v Redis failures counted, want at least 2 (a take and a pause)", n)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("%s is not registered", name)
	return 0
}

// A call that waits for a reserved slot is held back by a pause that begins meanwhile.
func TestPauseHoldsCallsWaitingForTheirSlot(t *testing.T) {
	a, b := newPair(t, 300, 1) // one call every 200 ms
	if err := waitWithin(a, time.Second); err != nil {
		t.Fatal(err)
	}
	// b's slot is 200 ms away; 50 ms into its wait, a is answered 429.
	go func() {
		time.Sleep(50 * time.Millisecond)
		a.Pause(time.Minute)
	}()
	if err := waitWithin(b, 1500*time.Millisecond); err == nil {
		t.Fatal("a call went out during a pause that began while it waited for its slot")
	}
}

func TestKeyRequired(t *testing.T) {
	rc, _ := testsupport.Redis(t)
	if _, err := redislimit.New(rc, redislimit.Options{PerMinute: 1, Burst: 1}); err == nil {
		t.Fatal("a limiter without a key was built")
	}
}
