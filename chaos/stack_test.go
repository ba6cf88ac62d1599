package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Credentials shared by the suite's processes; they guard nothing but this test.
const (
	simClientID     = "chaos-client"
	simClientSecret = "chaos-client-secret-0123456789" //nolint:gosec // test credentials
	webhookSecret   = "chaos-webhook-secret-0123456789"
	eventsStream    = "SCRIPTSYNC_EVENTS"
	deadStream      = "SCRIPTSYNC_DEAD_LETTERS"
	consumerName    = "scriptsync-worker"
	// baseLatency and baseJitter make every Genesys call take 50 to 150 ms, as real
	// calls do, so a kill finds work in flight and races have a window to show in.
	baseLatency  = "50ms"
	baseJitter   = "100ms"
	startTimeout = 30 * time.Second
	stopGrace    = 20 * time.Second
)

// stack is one deployment for one scenario: its own nats-server store, simulator, ingest
// and two workers. Only Redis (behind the suite's proxy) outlives it.
type stack struct {
	t       *testing.T
	dir     string
	nats    *proc
	sim     *proc
	ingest  *proc
	workers []*proc

	natsAddr, simAddr, ingestAddr string
	workerAdmin                   []string

	nc *nats.Conn
	js jetstream.JetStream
	hc *http.Client
}

// stackOptions are what a scenario may change about its deployment.
type stackOptions struct {
	// simEnv is extra environment for the simulator, such as a short token lifetime.
	simEnv []string
}

// startStack starts every process and waits until each is ready.
func startStack(t *testing.T, r *run, dir string, o stackOptions) *stack {
	t.Helper()
	s := &stack{
		t: t, dir: dir, natsAddr: freeAddr(t), simAddr: freeAddr(t), ingestAddr: freeAddr(t),
		hc: &http.Client{Timeout: 10 * time.Second},
	}
	t.Cleanup(s.teardown)
	s.nats = &proc{name: "nats-server", dir: dir, bin: filepath.Join(r.bin, "nats-server"),
		args: []string{"-a", "127.0.0.1", "-p", port(s.natsAddr), "-js",
			"-sd", filepath.Join(dir, "jetstream")}}
	s.nats.start(t)
	waitTCP(t, s.nats, s.natsAddr, startTimeout)
	s.connectNATS()

	s.sim = &proc{name: "sim", dir: dir, bin: r.scriptsync(), args: []string{"sim", "--addr",
		s.simAddr}, env: append([]string{
		"SCRIPTSYNC_LOG_LEVEL=warn", "SCRIPTSYNC_LOG_FORMAT=json", "SCRIPTSYNC_SIM_SEED_FILE=",
		"SCRIPTSYNC_SIM_CLIENT_ID=" + simClientID,
		"SCRIPTSYNC_SIM_CLIENT_SECRET=" + simClientSecret,
		"SCRIPTSYNC_SIM_FAULTS_LATENCY=" + baseLatency,
		"SCRIPTSYNC_SIM_FAULTS_JITTER=" + baseJitter,
	}, o.simEnv...)}
	s.sim.start(t)
	waitHTTP(t, s.sim, "http://"+s.simAddr+"/healthz", startTimeout)

	cfgPath := filepath.Join(dir, "scriptsync.yaml")
	if err := os.WriteFile(cfgPath, []byte(r.config(s)), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"SCRIPTSYNC_CONFIG=" + cfgPath,
		"SCRIPTSYNC_GENESYS_CLIENT_SECRET=" + simClientSecret,
		"SCRIPTSYNC_INGEST_AUTH_HMAC_SECRETS=" + webhookSecret}
	s.ingest = &proc{name: "ingest", dir: dir, bin: r.scriptsync(), args: []string{"ingest"},
		env: append(base, "SCRIPTSYNC_METRICS_ADDR=")}
	s.startIngest()
	for i := range 2 {
		admin := freeAddr(t)
		w := &proc{name: fmt.Sprintf("worker-%d", i+1), dir: dir, bin: r.scriptsync(),
			args: []string{"worker"}, env: append(base, "SCRIPTSYNC_METRICS_ADDR="+admin)}
		s.workers = append(s.workers, w)
		s.workerAdmin = append(s.workerAdmin, admin)
		s.startWorker(i)
	}
	return s
}

func (s *stack) connectNATS() {
	nc, err := nats.Connect("nats://"+s.natsAddr, nats.MaxReconnects(-1),
		nats.ReconnectWait(200*time.Millisecond), nats.Name("chaos-observer"))
	if err != nil {
		s.t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	s.nc, s.js = nc, js
}

// startIngest starts (or restarts) the ingest and waits until it can store events.
func (s *stack) startIngest() {
	s.ingest.start(s.t)
	waitHTTP(s.t, s.ingest, "http://"+s.ingestAddr+"/readyz", startTimeout)
}

// startWorker starts (or restarts) worker i and waits until it is connected.
func (s *stack) startWorker(i int) {
	s.workers[i].start(s.t)
	waitHTTP(s.t, s.workers[i], "http://"+s.workerAdmin[i]+"/readyz", startTimeout)
}

// restartNATS stops the server for down, then starts it again on the same store.
func (s *stack) restartNATS(ctx context.Context, down time.Duration) {
	s.nats.stop(s.t, stopGrace)
	sleep(ctx, down)
	s.nats.start(s.t)
	waitTCP(s.t, s.nats, s.natsAddr, startTimeout)
}

// teardown stops everything in the order production would: senders first (the suite has
// stopped its load by now), then the ingest, the workers, and last the server and the
// simulator they talk to.
func (s *stack) teardown() {
	if s.nc != nil {
		s.nc.Close()
	}
	for _, p := range append([]*proc{s.ingest}, s.workers...) {
		if p != nil {
			p.stop(s.t, stopGrace)
		}
	}
	for _, p := range []*proc{s.sim, s.nats} {
		if p != nil {
			p.stop(s.t, stopGrace)
		}
	}
}

// admin calls the simulator's admin API and decodes the answer into out, when given.
func (s *stack) admin(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://"+s.simAddr+path, rd)
	if err != nil {
		return err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// setFaults patches the simulator's faults; a failure fails the scenario.
func (s *stack) setFaults(faults map[string]any) {
	if err := s.admin(http.MethodPatch, "/admin/faults", faults, nil); err != nil {
		s.t.Errorf("set faults %v: %v", faults, err)
	}
}

// pending is how many events the workers' consumer still holds, or -1 when NATS cannot
// say right now.
func (s *stack) pending(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := s.js.Consumer(ctx, eventsStream, consumerName)
	if err != nil {
		return -1
	}
	info, err := c.Info(ctx)
	if err != nil {
		return -1
	}
	return int(info.NumPending) + info.NumAckPending //nolint:gosec // small counts
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// sleep waits d or until ctx ends. The suite sleeps only for the length of an outage.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
