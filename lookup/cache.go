package lookup

import (
	"strings"
	"sync"
	"time"
)

// cache keeps recent store answers, not-found included, for a short time. It is keyed by
// every rendered key of a lookup, because the answer depends on all of them and their
// order. Errors are never cached.
type cache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu        sync.Mutex
	entries   map[string]cacheEntry
	nextSweep time.Time
}

type cacheEntry struct {
	rec     map[string]string
	idx     int
	expires time.Time
}

func newCache(ttl time.Duration, maxEntries int) *cache {
	return &cache{ttl: ttl, max: maxEntries, now: time.Now,
		entries: make(map[string]cacheEntry)}
}

// cacheKey joins the keys with a byte no template produces between them.
func cacheKey(keys []string) string {
	if len(keys) == 1 {
		return keys[0]
	}
	return strings.Join(keys, "\x00")
}

func (c *cache) get(key string) (map[string]string, int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || c.now().After(e.expires) {
		return nil, 0, false
	}
	return e.rec, e.idx, true
}

// put stores an answer. When the cache is full it drops expired entries, at most once per
// TTL so a cache full of live entries does not rescan on every miss, and otherwise leaves
// the answer uncached.
func (c *cache) put(key string, rec map[string]string, idx int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= c.max && now.After(c.nextSweep) {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		c.nextSweep = now.Add(c.ttl)
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		return
	}
	c.entries[key] = cacheEntry{rec: rec, idx: idx, expires: now.Add(c.ttl)}
}
