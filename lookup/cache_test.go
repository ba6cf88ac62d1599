package lookup

import (
	"context"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func TestCache(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	c := newCache(time.Second, 2)
	c.now = func() time.Time { return now }
	rec := map[string]string{"a": "1"}
	c.put("k1", rec, 0)
	c.put("k2", nil, -1)
	if got, idx, ok := c.get("k1"); !ok || idx != 0 || got["a"] != "1" {
		t.Errorf("k1 = %v, %d, %v; want the record", got, idx, ok)
	}
	if _, idx, ok := c.get("k2"); !ok || idx != -1 {
		t.Errorf("k2 = %d, %v; want a cached not-found", idx, ok)
	}
	c.put("k3", rec, 0)
	if _, _, ok := c.get("k3"); ok {
		t.Errorf("k3 cached beyond the cap")
	}
	now = now.Add(1500 * time.Millisecond)
	if _, _, ok := c.get("k1"); ok {
		t.Errorf("k1 served after its TTL")
	}
	c.put("k3", rec, 0)
	if _, _, ok := c.get("k3"); !ok {
		t.Errorf("k3 not cached after expired entries were swept")
	}
}

// TestRedisCacheServesWithinTTL checks the cache end to end: within the TTL a changed
// record is not seen, which is the staleness the setting trades for speed.
func TestRedisCacheServesWithinTTL(t *testing.T) {
	t.Parallel()
	client, prefix := testsupport.Redis(t)
	key := prefix + "customer:" + adaE164
	ctx := context.Background()
	if err := client.HSet(ctx, key, "cust_tier", "gold").Err(); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	opts := client.Options()
	cfg.Source = config.LookupSourceRedis
	cfg.Redis.Addr, cfg.Redis.Password, cfg.Redis.DB = opts.Addr, opts.Password, opts.DB
	cfg.Keys = []string{prefix + "customer:{{ani}}"}
	cfg.CacheTTL = time.Hour
	svc, err := New(ctx, cfg, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer func() { _ = svc.Close() }()
	ev := callEvent(adaANI, "")
	for i := range 2 {
		res, err := svc.Lookup(ctx, ev)
		if err != nil || res.Attributes["cust_tier"] != "gold" {
			t.Fatalf("lookup %d: %+v, %v", i, res, err)
		}
		if err := client.HSet(ctx, key, "cust_tier", "platinum").Err(); err != nil {
			t.Fatal(err)
		}
	}
	if hits := counterValue(t, svc.m.cache.WithLabelValues("hit")); hits != 1 {
		t.Errorf("cache hits = %v, want 1", hits)
	}
}
