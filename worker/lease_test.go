package worker

import (
	"context"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// testLeases opens a lease bucket on n, with a context for the test's calls.
func testLeases(t *testing.T, n *testsupport.NATS, bucket string, ttl time.Duration) (
	context.Context, *leases) {
	t.Helper()
	_, js := n.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	l, err := openLeases(ctx, js, bucket, ttl, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	return ctx, l
}

// The lease bucket lives in memory: a restart of the NATS server drops it, and leases
// must work again once the server is back, without restarting the worker.
func TestLeasesSurviveServerRestart(t *testing.T) {
	n := testsupport.StartNATS(t)
	ctx, l := testLeases(t, n, "leases_restart", 5*time.Second)
	release, _, err := l.acquire(ctx, "conv-1")
	if err != nil || release == nil {
		t.Fatalf("first lease: held %v, %v", release != nil, err)
	}
	release()
	l.wait()

	n.Restart()
	testsupport.Eventually(t, 20*time.Second, func() bool {
		release, _, err = l.acquire(ctx, "conv-1")
		return err == nil
	}, "lease taken after the restart")
	if release == nil {
		t.Fatal("the lease is held by nobody, yet was refused")
	}
	if again, _, err := l.acquire(ctx, "conv-1"); err != nil || again != nil {
		t.Fatalf("a held lease taken twice: %v %v", again != nil, err)
	}
	release()
}

// A worker refused a lease learns how long the holder has had it, so it can wait longer
// for a holder that is itself waiting.
func TestRefusedLeaseSaysHowLongItIsHeld(t *testing.T) {
	ctx, l := testLeases(t, testsupport.StartNATS(t), "leases_held", 10*time.Second)
	release, _, err := l.acquire(ctx, "conv-1")
	if err != nil || release == nil {
		t.Fatalf("first lease: %v", err)
	}
	defer release()
	taken := time.Now()
	testsupport.Eventually(t, 5*time.Second, func() bool {
		return time.Since(taken) > 300*time.Millisecond
	}, "time passes")
	again, heldFor, err := l.acquire(ctx, "conv-1")
	if err != nil || again != nil {
		t.Fatalf("second lease: held %v, %v", again != nil, err)
	}
	if heldFor < 250*time.Millisecond || heldFor > 5*time.Second {
		t.Fatalf("held for %s, want about the 300ms since it was taken", heldFor)
	}
}

// A released lease is free for the next attempt once the release has run, although it
// runs in the background.
func TestReleasedLeaseIsFreeAfterWait(t *testing.T) {
	ctx, l := testLeases(t, testsupport.StartNATS(t), "leases_release", 10*time.Second)
	for i := range 20 {
		release, _, err := l.acquire(ctx, "conv-1")
		if err != nil || release == nil {
			t.Fatalf("attempt %d: lease held %v, %v", i, release != nil, err)
		}
		release()
		l.wait()
	}
}
