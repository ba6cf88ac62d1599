package lookup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// TestFileReloadWhileLookupsRun swaps the file under running lookups: each lookup must see
// one whole version, the new version must arrive, and a broken or missing file must leave
// the last good version in place.
func TestFileReloadWhileLookupsRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "records.yaml")
	version := func(tier string) map[string]any {
		return map[string]any{"customer:" + adaE164: map[string]any{
			"customer_name": "Ada Lovelace", "cust_tier": tier}}
	}
	writeRecords(t, path, version("gold"))
	cfg := baseConfig()
	suiteMapping(&cfg, "")
	cfg.File.Path = path
	reg := prometheus.NewRegistry()
	// Info, not debug: the readers would log every lookup.
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	svc, err := New(context.Background(), cfg, Options{Logger: log, Registerer: reg,
		Namespace: "test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer func() { _ = svc.Close() }()

	var current atomic.Value
	current.Store("")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var torn atomic.Int64
	for range 4 {
		wg.Go(func() {
			ev := callEvent(adaANI, "")
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := svc.Lookup(context.Background(), ev)
				if err != nil || !res.Found {
					torn.Add(1)
					continue
				}
				// Tier and Greeting come from one record: they must agree.
				tier := res.Attributes["Tier"]
				if res.Attributes["Greeting"] != "Ada Lovelace ("+tier+")" {
					torn.Add(1)
				}
				current.Store(tier)
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
		if n := torn.Load(); n > 0 {
			t.Errorf("%d lookups saw no record or a mix of versions", n)
		}
	}()
	seen := func(tier string) func() bool {
		return func() bool { return current.Load() == tier }
	}
	testsupport.Eventually(t, 5*time.Second, seen("GOLD"), "first version served")

	writeRecords(t, path, version("platinum"))
	testsupport.Eventually(t, 5*time.Second, seen("PLATINUM"), "new version served")

	reloadErrors := func() float64 {
		return counterValue(t, svc.store.(*fileStore).m.fileReloads.WithLabelValues("error"))
	}
	writeFile(t, path, []byte("customer:+14155550123: [unclosed\n"))
	testsupport.Eventually(t, 5*time.Second, func() bool { return reloadErrors() == 1 },
		"broken file reported")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 5*time.Second, func() bool { return reloadErrors() == 2 },
		"missing file reported")
	if current.Load() != "PLATINUM" {
		t.Errorf("serving %v after failed reloads, want the last good PLATINUM", current.Load())
	}

	writeRecords(t, path, version("diamond"))
	testsupport.Eventually(t, 5*time.Second, seen("DIAMOND"), "recovered version served")
	if n := seriesCount(t, reg, "test_lookup_file_reloads_total"); n != 2 {
		t.Errorf("reload series = %d, want ok and error", n)
	}
}

// TestFileRejectsBadFiles checks that a file that cannot be read as records stops the
// lookup at start-up, naming the problem but not the keys.
func TestFileRejectsBadFiles(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct{ ext, content, want string }{
		"yaml syntax": {".yaml", "a: [", "parse lookup file"},
		"yaml list":   {".yaml", "- a\n- b\n", "must map keys to records"},
		"duplicate key": {".yml",
			"\"customer:+14155550123\": {a: 1}\n\"customer:+14155550123\": {a: 2}\n",
			"line 2: key defined twice"},
		"json syntax": {".json", `{"k": {`, "malformed JSON"},
		"json list":   {".json", `[1]`, "JSON array where an object was expected"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "records"+tt.ext)
			writeFile(t, path, []byte(tt.content))
			cfg := baseConfig()
			cfg.File.Path = path
			svc, err := New(context.Background(), cfg, Options{})
			if err == nil {
				_ = svc.Close()
				t.Fatal("New accepted the file")
			}
			if msg := err.Error(); !containsAll(msg, tt.want) || containsAll(msg, phoneDigit) {
				t.Errorf("error %q: want it to say %q and hold no phone number", msg, tt.want)
			}
		})
	}
}

// TestFileEmptyIsValid: an empty file has no records; every lookup is not found.
func TestFileEmptyIsValid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "records.yaml")
	writeFile(t, path, nil)
	cfg := baseConfig()
	cfg.File.Path = path
	svc, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer func() { _ = svc.Close() }()
	if res, err := svc.Lookup(context.Background(), callEvent(adaANI, "")); err != nil ||
		res.Found {
		t.Errorf("got %+v, %v; want not found", res, err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestNewReleasesOnFailure: a Service that fails after opening its source (here, metrics
// already registered by another) stops its file watcher; goleak checks it.
func TestNewReleasesOnFailure(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.File.Path = examplesPath
	reg := prometheus.NewRegistry()
	first, err := New(context.Background(), cfg, Options{Registerer: reg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer func() { _ = first.Close() }()
	if second, err := New(context.Background(), cfg, Options{Registerer: reg}); err == nil {
		_ = second.Close()
		t.Fatal("a second Service registered the same metrics")
	} else if !strings.Contains(err.Error(), "register lookup metrics") {
		t.Errorf("err = %v", err)
	}
}
