package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// params size one run of the suite.
type params struct {
	// rate is events a second, for load.
	rate int
	load time.Duration
	// convs is how many conversations the events are spread over.
	convs int
	// faultAt is how long into the load a fault starts.
	faultAt time.Duration
	// How long each outage lasts.
	restartDown, redisDown, errorsFor, stormFor, latencyFor, tokenDown time.Duration
	// retryFor is how long after the load senders keep retrying unanswered events.
	retryFor time.Duration
	// drain bounds the wait for every accepted event to be settled.
	drain time.Duration
}

// modes are the suite's two sizes. ci fits CI's time budget (about five minutes for
// every scenario); full is what docs/faults.md reports.
var modes = map[string]params{
	"ci": {rate: 30, load: 12 * time.Second, convs: 200, faultAt: 3 * time.Second,
		restartDown: 2 * time.Second, redisDown: 5 * time.Second, errorsFor: 8 * time.Second,
		stormFor: 8 * time.Second, latencyFor: 8 * time.Second, tokenDown: 5 * time.Second,
		retryFor: time.Minute, drain: 2 * time.Minute},
	"full": {rate: 50, load: time.Minute, convs: 300, faultAt: 10 * time.Second,
		restartDown: 5 * time.Second, redisDown: 10 * time.Second, errorsFor: 30 * time.Second,
		stormFor: 30 * time.Second, latencyFor: 30 * time.Second, tokenDown: 10 * time.Second,
		retryFor: 2 * time.Minute, drain: 5 * time.Minute},
}

// run is what every scenario of one suite run shares: the binaries, the Redis records
// and the proxy in front of Redis.
type run struct {
	mode   string
	p      params
	bin    string
	prefix string
	redis  *redis.Client
	proxy  *tcpProxy
	root   string
}

func (r *run) scriptsync() string { return filepath.Join(r.bin, "scriptsync") }

func TestChaos(t *testing.T) {
	mode := os.Getenv("SCRIPTSYNC_CHAOS")
	if mode == "" {
		t.Skip("the fault suite runs only with SCRIPTSYNC_CHAOS=ci or full (make chaos)")
	}
	p, ok := modes[mode]
	if !ok {
		t.Fatalf("SCRIPTSYNC_CHAOS=%q: want ci or full", mode)
	}
	r := setupRun(t, mode, p)
	var rows []row
	for _, sc := range scenarios() {
		t.Run(sc.slug(), func(t *testing.T) {
			rows = append(rows, r.scenario(t, sc))
		})
	}
	table := formatTable(rows)
	fmt.Printf("\nfault suite, mode %s: %d events/s for %s per scenario over %d "+
		"conversations\n\n%s\n", mode, p.rate, p.load, p.convs, table)
	if out := os.Getenv("SCRIPTSYNC_CHAOS_REPORT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o600); err != nil {
			t.Error(err)
		}
	}
	if !t.Failed() && os.Getenv("SCRIPTSYNC_CHAOS_KEEP") == "" {
		_ = os.RemoveAll(r.root)
	} else {
		t.Logf("process logs kept in %s", r.root)
	}
}

// setupRun builds or finds the binaries, seeds Redis and starts the proxy in front of it.
func setupRun(t *testing.T, mode string, p params) *run {
	t.Helper()
	var id [4]byte
	_, _ = rand.Read(id[:])
	root, err := os.MkdirTemp("", "scriptsync-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	r := &run{mode: mode, p: p, bin: buildBinaries(t), root: root,
		prefix: "scriptsync-chaos:" + hex.EncodeToString(id[:]) + ":"}
	addr := "127.0.0.1:6379"
	if u := os.Getenv("REDIS_URL"); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
		addr = opts.Addr
	}
	r.redis = redis.NewClient(&redis.Options{Addr: addr,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled}})
	t.Cleanup(func() { _ = r.redis.Close() })
	r.seed(t)
	r.proxy = startProxy(t, addr)
	return r
}

// seed writes one record per conversation under the run's own key prefix. Keys expire
// after two hours, so a run killed before its cleanup leaves nothing for long.
func (r *run) seed(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pipe := r.redis.Pipeline()
	keys := make([]string, 0, r.p.convs)
	for i := range r.p.convs {
		tier := fmt.Sprintf("tier-%d", i%3)
		if badConv(i) {
			// Longer than Genesys's 256-character limit: refused for good.
			tier = strings.Repeat("x", 300)
		}
		key := recordKey(r.prefix, i)
		keys = append(keys, key)
		pipe.HSet(ctx, key, "cust_tier", tier)
		pipe.Expire(ctx, key, 2*time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed Redis at %s: %v", r.redis.Options().Addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.redis.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("delete the suite's Redis keys: %v", err)
		}
	})
}

// config is the configuration file the ingest and the workers share. Secrets and the
// per-process listeners come from the environment.
func (r *run) config(s *stack) string {
	level := os.Getenv("SCRIPTSYNC_CHAOS_LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	return fmt.Sprintf(`log: {level: %s, format: json}
nats: {url: "nats://%s", name: chaos, connect_timeout: 2s}
ingest:
  addr: "%s"
  auth: {methods: [hmac]}
genesys:
  login_url: "http://%s"
  api_url: "http://%s"
  client_id: %s
  timeout: 2s
  rate_per_minute: 60000
  burst: 200
lookup:
  source: redis
  keys: ["%scustomer:{{ani}}"]
  record_fields: [cust_tier]
  attributes:
    - {name: cust_tier, field: cust_tier}
    - {name: chaos_event, event: id}
  timeout: 1s
  redis: {addr: "%s", dial_timeout: 500ms, read_timeout: 500ms, write_timeout: 500ms}
worker:
  concurrency: 16
  ack_wait: 10s
  attempt_timeout: 5s
  lease_ttl: 8s
  shutdown_grace: 5s
  retry:
    transient: {initial: 200ms, max: 2s}
    rate_limited_max_wait: 5s
`, level, s.natsAddr, s.ingestAddr, s.simAddr, s.simAddr, simClientID, r.prefix, r.proxy.Addr())
}

// scenario runs one scenario on a fresh deployment and checks its outcome.
func (r *run) scenario(t *testing.T, sc scenario) row {
	dir := filepath.Join(r.root, sc.slug())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, r, dir, stackOptions{simEnv: sc.simEnv})
	prefix := sc.slug() + "-"
	r.register(t, s, prefix)
	copies := max(sc.copies, 1)
	l := newLoader(s.ingestAddr, prefix, r.p.convs, copies)

	ctx, cancel := context.WithTimeout(context.Background(), r.p.load+r.p.retryFor+time.Minute)
	defer cancel()
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		if sc.inject != nil {
			sleep(ctx, r.p.faultAt)
			sc.inject(ctx, s, r)
		}
	}()
	l.run(ctx, r.p.rate, r.p.load, r.p.retryFor)
	<-faultDone
	var reposted, repostDup int
	if sc.repost > 0 {
		reposted, repostDup = l.repost(ctx, acceptedFirst(l.snapshot(), sc.repost))
	}
	res := drain(t, s, l.snapshot(), r.p.drain)
	rw := res.row(sc.name)
	res.check(t, sc, rw)
	if short := answeredAsNew(l.snapshot(), copies); short > 0 {
		t.Errorf("%d events had fewer than %d of their %d copies answered as duplicates",
			short, copies-1, copies)
	}
	if sc.repost > 0 && repostDup != reposted {
		t.Errorf("%d of %d events sent again after the ingest restart were answered as "+
			"new, not as duplicates", reposted-repostDup, reposted)
	}
	t.Logf("%s: %+v", sc.name, rw)
	return rw
}

// register creates the scenario's conversations in the simulator, one customer
// participant each.
func (r *run) register(t *testing.T, s *stack, prefix string) {
	t.Helper()
	for i := range r.p.convs {
		body := map[string]any{"id": convID(prefix, i), "participants": []map[string]any{
			{"id": participantID(i), "purpose": "customer"}}}
		if err := s.admin(http.MethodPost, "/admin/conversations", body, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// answeredAsNew counts the accepted events of which fewer than copies-1 posts were
// answered as duplicates: each copy after the first must be.
func answeredAsNew(evs []*sent, copies int) int {
	n := 0
	for _, ev := range evs {
		if !ev.acceptedAt.IsZero() && ev.duplicates < copies-1 {
			n++
		}
	}
	return n
}

// acceptedFirst returns up to n events that were accepted, oldest first.
func acceptedFirst(evs []*sent, n int) []*sent {
	var out []*sent
	for _, ev := range evs {
		if !ev.acceptedAt.IsZero() && len(out) < n {
			out = append(out, ev)
		}
	}
	return out
}
