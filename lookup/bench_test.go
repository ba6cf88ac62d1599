package lookup

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// BenchmarkLookup measures whole lookups (keys rendered, store read, record mapped) with
// the suite's eight-attribute mapping. Against Redis it reads the server REDIS_URL names,
// or a miniredis without it, which says little about production. Run:
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench . -benchmem ./lookup/
func BenchmarkLookup(b *testing.B) {
	redisName := "redis"
	if os.Getenv(testsupport.EnvRedisURL) == "" {
		redisName = "miniredis"
	}
	hit := callEvent(adaANI, "")
	second := callEvent(graceANI, graceID)
	b.Run("file/first_key", func(b *testing.B) { benchSerial(b, fileBench(b), hit) })
	b.Run("file/parallel", func(b *testing.B) { benchParallel(b, fileBench(b), hit) })
	for _, format := range []string{config.RedisFormatHash, config.RedisFormatJSON} {
		name := redisName + "_" + format
		b.Run(name+"/first_key", func(b *testing.B) {
			benchSerial(b, redisBench(b, format, 0), hit)
		})
		b.Run(name+"/second_key", func(b *testing.B) {
			benchSerial(b, redisBench(b, format, 0), second)
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			benchParallel(b, redisBench(b, format, 0), hit)
		})
	}
	b.Run(redisName+"_hash_cache_1s/first_key", func(b *testing.B) {
		benchSerial(b, redisBench(b, config.RedisFormatHash, time.Second), hit)
	})
	b.Run(redisName+"_hash_cache_1s/parallel", func(b *testing.B) {
		benchParallel(b, redisBench(b, config.RedisFormatHash, time.Second), hit)
	})
}

func benchData() map[string]any {
	return map[string]any{"customer:" + adaE164: adaRecord(), "contact:" + graceID: graceRecord()}
}

func fileBench(b *testing.B) *Service {
	path := filepath.Join(b.TempDir(), "records.yaml")
	writeRecords(b, path, benchData())
	cfg := baseConfig()
	cfg.File.Path = path
	suiteMapping(&cfg, "")
	return benchService(b, cfg)
}

// redisBench connects straight to the server, not through the suite's proxy.
func redisBench(b *testing.B, format string, ttl time.Duration) *Service {
	client, prefix := testsupport.Redis(b)
	for k, v := range benchData() {
		if err := seedRedis(context.Background(), client, format, prefix+k, v); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	opts := client.Options()
	cfg := baseConfig()
	cfg.Source = config.LookupSourceRedis
	cfg.Redis.Addr, cfg.Redis.Username, cfg.Redis.Password = opts.Addr, opts.Username,
		opts.Password
	cfg.Redis.DB = opts.DB
	cfg.Redis.Format = format
	cfg.CacheTTL = ttl
	suiteMapping(&cfg, prefix)
	return benchService(b, cfg)
}

func benchService(b *testing.B, cfg config.Lookup) *Service {
	svc, err := New(context.Background(), cfg, Options{Namespace: "bench"})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	return svc
}

func benchSerial(b *testing.B, svc *Service, ev *event.Event) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := svc.Lookup(ctx, ev)
		if err != nil || !res.Found {
			b.Fatalf("lookup: %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// benchParallel runs as many lookups at once as the worker's default concurrency.
func benchParallel(b *testing.B, svc *Service, ev *event.Event) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(max(1, config.Default().Worker.Concurrency/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := svc.Lookup(ctx, ev)
			if err != nil || !res.Found {
				b.Errorf("lookup: %+v, %v", res, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
