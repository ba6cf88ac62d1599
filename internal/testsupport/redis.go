package testsupport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// EnvRedisURL names the variable that points tests at a real Redis server, such as
// redis://127.0.0.1:6379/0. Without it tests get an in-process miniredis.
const EnvRedisURL = "REDIS_URL"

var unsafeKeyChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Redis returns a client for the test and a key prefix no other test uses. With REDIS_URL
// set it is the real server, and every key under the prefix is deleted when the test
// ends; otherwise it is a miniredis that lives as long as the test. Keep every key the
// test writes under the prefix: the real server is shared.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	var buf [6]byte
	_, _ = rand.Read(buf[:])
	prefix := "test:" + unsafeKeyChars.ReplaceAllString(t.Name(), "_") + ":" +
		hex.EncodeToString(buf[:]) + ":"
	if url := os.Getenv(EnvRedisURL); url != "" {
		return realRedis(t, url, prefix), prefix
	}
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaintNotificationsConfig: noMaint()})
	t.Cleanup(func() { _ = c.Close() })
	return c, prefix
}

func realRedis(t testing.TB, url, prefix string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvRedisURL, err)
	}
	opts.MaintNotificationsConfig = noMaint()
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("ping the Redis at %s: %v", EnvRedisURL, err)
	}
	t.Cleanup(func() {
		defer func() { _ = c.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("list test keys under %s: %v", prefix, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("delete test keys under %s: %v", prefix, err)
				return
			}
			keys = keys[n:]
		}
	})
	return c
}

// noMaint turns off maintenance notifications, a managed-service feature that a test
// server answers with an error on every new connection.
func noMaint() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// ClosedAddr returns a loopback address where nothing listens, for a store that is down.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
