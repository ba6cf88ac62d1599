package lookup

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// malformed is a stored value that is not a record: bytes that are not a JSON object, or
// a file entry that is not a mapping.
type malformed string

// fixture is a store seeded for one test, and the source settings that read it.
type fixture struct {
	cfg config.Lookup
	// prefix starts every key the store was seeded with.
	prefix string
	// fail, when set, takes the store away: "down" refuses connections or answers 503,
	// "stall" accepts and never answers. Sources without an outage (the file) leave it nil.
	fail func(mode string)
}

// backend is one way of storing records that the shared suite runs against.
type backend struct {
	name string
	// fieldErrors: a bad value is reported against its field (a Redis hash cannot hold
	// one, so there the key's type is what is bad).
	fieldErrors bool
	open        func(t *testing.T, data map[string]any) fixture
}

func backends() []backend {
	return []backend{
		{name: "file_yaml", fieldErrors: true, open: fileBackend(".yaml")},
		{name: "file_json", fieldErrors: true, open: fileBackend(".json")},
		{name: "redis_hash", open: redisBackend(config.RedisFormatHash)},
		{name: "redis_json", fieldErrors: true, open: redisBackend(config.RedisFormatJSON)},
		{name: "http", fieldErrors: true, open: httpBackend},
	}
}

func baseConfig() config.Lookup {
	cfg := config.Default().Lookup
	cfg.File.PollInterval = 10 * time.Millisecond
	return cfg
}

func fileBackend(ext string) func(t *testing.T, data map[string]any) fixture {
	return func(t *testing.T, data map[string]any) fixture {
		path := filepath.Join(t.TempDir(), "records"+ext)
		writeRecords(t, path, data)
		cfg := baseConfig()
		cfg.Source = config.LookupSourceFile
		cfg.File.Path = path
		return fixture{cfg: cfg}
	}
}

// writeRecords replaces the file in one rename, as operators are told to.
func writeRecords(t testing.TB, path string, data map[string]any) {
	t.Helper()
	var out []byte
	var err error
	if strings.HasSuffix(path, ".json") {
		out, err = json.Marshal(data)
	} else {
		out, err = yaml.Marshal(data)
	}
	if err != nil {
		t.Fatalf("encode records: %v", err)
	}
	writeFile(t, path, out)
}

func writeFile(t testing.TB, path string, content []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatalf("write records: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("rename records: %v", err)
	}
}

func redisBackend(format string) func(t *testing.T, data map[string]any) fixture {
	return func(t *testing.T, data map[string]any) fixture {
		client, prefix := testsupport.Redis(t)
		ctx := context.Background()
		for k, v := range data {
			if err := seedRedis(ctx, client, format, prefix+k, v); err != nil {
				t.Fatalf("seed redis: %v", err)
			}
		}
		opts := client.Options()
		px := startProxy(t, opts.Addr)
		cfg := baseConfig()
		cfg.Source = config.LookupSourceRedis
		cfg.Redis.Addr = px.addr()
		cfg.Redis.Username = opts.Username
		cfg.Redis.Password = opts.Password
		cfg.Redis.DB = opts.DB
		cfg.Redis.Format = format
		return fixture{cfg: cfg, prefix: prefix, fail: px.fail}
	}
}

// seedRedis stores a record as the format expects. A value the format cannot hold (a
// nested value in a hash, a malformed value) is stored as a plain string, which is what
// such bad data looks like in a hash-format store.
func seedRedis(ctx context.Context, c *redis.Client, format, key string, v any) error {
	if m, ok := v.(malformed); ok {
		return c.Set(ctx, key, string(m), 0).Err()
	}
	rec := v.(map[string]any)
	if format == config.RedisFormatJSON {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return c.Set(ctx, key, b, 0).Err()
	}
	var args []any
	for f, val := range rec {
		s, ok := hashValue(val)
		if !ok {
			return c.Set(ctx, key, "not a hash", 0).Err()
		}
		args = append(args, f, s)
	}
	return c.HSet(ctx, key, args...).Err()
}

func hashValue(v any) (string, bool) {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, it := range x {
			parts[i] = fmt.Sprint(it)
		}
		return strings.Join(parts, ","), true
	case map[string]any:
		return "", false
	}
	return fmt.Sprint(v), true
}

const testToken = "test-bearer-token-0123456789"

func httpBackend(t *testing.T, data map[string]any) fixture {
	var mu sync.Mutex
	mode := ""
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		m := mode
		mu.Unlock()
		switch {
		case m == "down":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case m == "stall":
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		case r.Header.Get("Authorization") != "Bearer "+testToken:
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		v, ok := data[strings.TrimPrefix(r.URL.Path, "/records/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if m, ok := v.(malformed); ok {
			_, _ = w.Write([]byte(m))
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	cfg := baseConfig()
	cfg.Source = config.LookupSourceHTTP
	cfg.HTTP.URL = srv.URL + "/records/{{key}}"
	cfg.HTTP.BearerToken = testToken
	return fixture{cfg: cfg, fail: func(m string) {
		mu.Lock()
		mode = m
		mu.Unlock()
	}}
}
