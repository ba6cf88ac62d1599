package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// leases keeps two workers from reading and writing one conversation at the same time,
// across every goroutine and process. A lease is a key in a NATS key-value bucket created
// only if absent; it is deleted when the work is done, and the bucket's TTL removes the
// key of a worker that died holding it. Attempts are bounded by attempt_timeout, shorter
// than the TTL, so a lease never expires under a live holder.
//
// The bucket is kept in memory, so a restart of the NATS server drops it with every lease
// in it: the first worker to find it gone creates it again. Known limit: for up to
// attempt_timeout after such a restart, an attempt that started before it holds a lease
// that no longer exists, and a second write to the same conversation can race it.
type leases struct {
	js    jetstream.JetStream
	cfg   jetstream.KeyValueConfig
	owner string

	mu sync.Mutex
	kv jetstream.KeyValue

	// releasing tracks deletions still under way, so that a stopping worker frees its
	// leases before it closes the connection instead of leaving them to the TTL.
	releasing sync.WaitGroup
}

// leaseCallTimeout bounds taking a lease; a healthy server answers in milliseconds.
const leaseCallTimeout = 3 * time.Second

func openLeases(ctx context.Context, js jetstream.JetStream, bucket string, ttl time.Duration,
	replicas int, owner string) (*leases, error) {
	l := &leases{js: js, owner: owner, cfg: jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "scriptsync per-conversation leases",
		TTL:         ttl,
		History:     1,
		// Leases need no disk: after a restart of NATS every lease is free, and the
		// TTL of any holder has passed by the time its event comes back.
		Storage:  jetstream.MemoryStorage,
		Replicas: replicas,
	}}
	if _, err := l.open(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// open creates the bucket, or binds to it when it exists.
func (l *leases) open(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := l.js.CreateOrUpdateKeyValue(ctx, l.cfg)
	if err != nil {
		return nil, fmt.Errorf("create lease bucket %s: %w", l.cfg.Bucket, err)
	}
	l.mu.Lock()
	l.kv = kv
	l.mu.Unlock()
	return kv, nil
}

func (l *leases) bucket() jetstream.KeyValue {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.kv
}

// acquire takes the lease on key. When another worker has it, release is nil and heldFor
// says how long that worker has held it (zero when that cannot be told), so the caller
// can wait longer for a holder that is itself waiting, on a 429 pause say.
func (l *leases) acquire(ctx context.Context, key string) (
	release func(), heldFor time.Duration, err error) {
	// A request lost while the server restarts gets no answer at all; without a bound
	// of its own it would hold the event for the whole attempt timeout.
	ctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	defer cancel()
	kv := l.bucket()
	rev, err := kv.Create(ctx, key, []byte(l.owner))
	if errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrStreamNotFound) {
		// The bucket is gone, as after a restart of the NATS server.
		if kv, err = l.open(ctx); err != nil {
			return nil, 0, fmt.Errorf("take lease: %w", err)
		}
		rev, err = kv.Create(ctx, key, []byte(l.owner))
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		if entry, gerr := kv.Get(ctx, key); gerr == nil {
			heldFor = max(time.Since(entry.Created()), 0)
		}
		return nil, heldFor, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("take lease: %w", err)
	}
	return func() {
		// The attempt is over when this runs: its write was answered, or abandoned on a
		// timeout (Genesys may still apply an abandoned write later; no lease can stop
		// that). The release runs in the background, keeping a NATS round trip off every
		// event's path: 3% more events a second at 50 ms Genesys latency, at the cost of
		// a "locked" retry for an event of the same conversation that arrives within
		// that round trip. The attempt's context may be spent; the release gets its own.
		// If it fails, the TTL frees the key.
		l.releasing.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = kv.Delete(ctx, key, jetstream.LastRevision(rev))
		})
	}, 0, nil
}

// wait returns once every release begun has ended.
func (l *leases) wait() { l.releasing.Wait() }
