package e2e_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/genesys/redislimit"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/app"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// redisURL is the URL a worker's configuration takes for the server behind c.
func redisURL(c *redis.Client) string {
	o := c.Options()
	u := url.URL{Scheme: "redis", Host: o.Addr, Path: "/" + strconv.Itoa(o.DB)}
	if o.Password != "" {
		u.User = url.UserPassword(o.Username, o.Password)
	}
	return u.String()
}

// A 429 seen by one process pauses every worker that shares the limit's key.
func TestSharedLimitPausesTheFleet(t *testing.T) {
	rc, prefix := testsupport.Redis(t)
	key := prefix + "genesys"
	s := start(t, sim.Options{}, func(c *config.Config) {
		c.Genesys.SharedLimit.RedisURL = redisURL(rc)
		c.Genesys.SharedLimit.Key = key
	})
	registerFixtures(t, s, 0)
	s.startWorker(t, nil)
	s.startWorker(t, nil)

	// Another process of the fleet was answered 429 with a Retry-After of three seconds.
	other, err := redislimit.New(rc, redislimit.Options{Key: key, PerMinute: 60000, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	const pause = 3 * time.Second
	pausedAt := time.Now()
	other.Pause(pause)
	s.post(t, testsupport.Fixture(t, "events/notification-user-start.json"))

	time.Sleep(pause / 2)
	if n := s.sim.Counts().APIRequests; n != 0 {
		t.Fatalf("%d API calls during the fleet's pause", n)
	}
	testsupport.Eventually(t, 15*time.Second, func() bool {
		return s.attributes(fixtureConv, fixtureAgent)["cust_tier"] == "gold"
	}, "the write lands once the pause is over")
	for _, w := range s.sim.Writes() {
		// The pause ends by the Redis server's clock; on one machine the two agree to
		// well within the margin.
		if w.Time.Before(pausedAt.Add(pause - 100*time.Millisecond)) {
			t.Errorf("write at %v, %v into a pause of %v", w.Time, w.Time.Sub(pausedAt), pause)
		}
	}
}

// A shared limit whose Redis does not answer stops the worker at start-up, naming the
// setting, rather than letting each process pace itself alone without a word.
func TestSharedLimitWithoutItsRedisDoesNotStart(t *testing.T) {
	s := start(t, sim.Options{}, func(c *config.Config) {
		c.Genesys.SharedLimit.RedisURL = "redis://" + testsupport.ClosedAddr(t)
	})
	cfg := s.cfg
	_, _, _, err := app.Worker(context.Background(), &cfg, s.conn, prometheus.NewRegistry(),
		zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "genesys.shared_limit") {
		t.Fatalf("worker with an unreachable shared-limit Redis: %v", err)
	}
}
