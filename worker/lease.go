package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// leases keeps two workers from reading and writing one conversation at the same time,
// across every goroutine and process. A lease is a key in a NATS key-value bucket created
// only if absent; it is deleted when the work is done, and the bucket's TTL removes the
// key of a worker that died holding it. Attempts are bounded by attempt_timeout, shorter
// than the TTL, so a lease never expires under a live holder.
type leases struct {
	kv    jetstream.KeyValue
	owner string
}

func openLeases(ctx context.Context, js jetstream.JetStream, bucket string, ttl time.Duration,
	replicas int, owner string) (*leases, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "scriptsync per-conversation leases",
		TTL:         ttl,
		History:     1,
		// Leases need no disk: after a restart of NATS every lease is free, and the
		// TTL of any holder has passed by the time its event comes back.
		Storage:  jetstream.MemoryStorage,
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create lease bucket %s: %w", bucket, err)
	}
	return &leases{kv: kv, owner: owner}, nil
}

// acquire takes the lease on key. held is false when another worker has it.
func (l *leases) acquire(ctx context.Context, key string) (release func(), held bool, err error) {
	rev, err := l.kv.Create(ctx, key, []byte(l.owner))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("take lease: %w", err)
	}
	return func() {
		// The attempt's context may be spent; the release gets its own. If it fails, the
		// TTL frees the key.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.kv.Delete(ctx, key, jetstream.LastRevision(rev))
	}, true, nil
}
