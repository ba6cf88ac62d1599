package worker

import (
	"context"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// The lease bucket lives in memory: a restart of the NATS server drops it, and leases
// must work again once the server is back, without restarting the worker.
func TestLeasesSurviveServerRestart(t *testing.T) {
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := openLeases(ctx, js, "leases_restart", 5*time.Second, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	release, held, err := l.acquire(ctx, "conv-1")
	if err != nil || !held {
		t.Fatalf("first lease: held %v, %v", held, err)
	}
	release()

	n.Restart()
	testsupport.Eventually(t, 20*time.Second, func() bool {
		release, held, err = l.acquire(ctx, "conv-1")
		return err == nil
	}, "lease taken after the restart")
	if !held {
		t.Fatal("the lease is held by nobody, yet was refused")
	}
	if _, again, err := l.acquire(ctx, "conv-1"); err != nil || again {
		t.Fatalf("a held lease taken twice: %v %v", again, err)
	}
	release()
}
