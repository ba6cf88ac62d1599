// Command pipeline measures scriptsync end to end: events posted to the ingest, stored in a
// nats-server process, handled by worker processes that read and write the simulator's
// participants. Every event changes an attribute, so every event costs a read and a write.
//
// It reports, for each scenario, the end-to-end throughput (events posted until the last
// write landed) and, for the readiness scenario, how long after a conversation became
// visible its write landed.
//
// Usage: go run ./bench/pipeline -scriptsync bin/scriptsync -nats-server bin/nats-server
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scriptsync/scriptsync/bench/internal/proc"
)

type scenario struct {
	name        string
	latency     time.Duration
	workers     int
	concurrency int
	events      int
	// rate, when set, paces the events at rate a second instead of posting them as fast
	// as the ingest takes them; readiness spreads each conversation's readiness delay
	// over [0, readiness).
	readiness time.Duration
	rate      int
}

func main() {
	scriptsync := flag.String("scriptsync", "bin/scriptsync", "scriptsync binary")
	natsServer := flag.String("nats-server", "bin/nats-server", "nats-server binary")
	scale := flag.Float64("scale", 1, "multiply every scenario's event count")
	only := flag.String("only", "", "run only scenarios whose name contains this")
	flag.Parse()
	scenarios := []scenario{
		{name: "0ms, 1 worker", workers: 1, concurrency: 64, events: 20000},
		{name: "0ms, 2 workers", workers: 2, concurrency: 64, events: 20000},
		{name: "50ms, 1 worker", latency: 50 * time.Millisecond, workers: 1, concurrency: 64,
			events: 6000},
		{name: "50ms, 2 workers", latency: 50 * time.Millisecond, workers: 2, concurrency: 64,
			events: 12000},
		{name: "0ms, 1000/s", workers: 1, concurrency: 64, events: 10000, rate: 1000},
		{name: "readiness 0-3s", workers: 1, concurrency: 64, events: 1500,
			readiness: 3 * time.Second, rate: 100},
	}
	fmt.Printf("%-18s %7s %7s %10s %9s %9s %s\n", "scenario", "events", "applied",
		"events/s", "p50", "p99", "note")
	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		sc.events = int(float64(sc.events) * *scale)
		if err := runScenario(sc, *scriptsync, *natsServer); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", sc.name, err)
			os.Exit(1)
		}
	}
}

const (
	clientID      = "bench"
	clientSecret  = "bench-secret-0123456789"
	conversations = 2000
)

func runScenario(sc scenario, scriptsync, natsServer string) error {
	dir, err := os.MkdirTemp("", "pipeline")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ns, natsURL, err := proc.NATSServer(natsServer, dir)
	if err != nil {
		return err
	}
	defer proc.Stop(ns)
	simPort, ingestPort := proc.FreePort(), proc.FreePort()
	simURL := "http://127.0.0.1:" + strconv.Itoa(simPort)
	cfgPath, err := writeConfig(dir, natsURL, simURL, ingestPort, sc)
	if err != nil {
		return err
	}
	var procs []*exec.Cmd
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			proc.Stop(procs[i])
		}
	}()
	launch := func(name string, args ...string) error {
		cmd := exec.Command(scriptsync, append(args, "--config", cfgPath)...)
		if err := proc.Start(cmd, dir, name+".log"); err != nil {
			return err
		}
		procs = append(procs, cmd)
		return nil
	}
	if err := launch("sim", "sim", "--addr", "127.0.0.1:"+strconv.Itoa(simPort)); err != nil {
		return err
	}
	if err := launch("ingest", "ingest"); err != nil {
		return err
	}
	for _, port := range []int{simPort, ingestPort} {
		if err := proc.WaitTCP(port); err != nil {
			return err
		}
	}
	if sc.readiness == 0 {
		if err := registerAll(simURL); err != nil {
			return err
		}
	}
	for i := range sc.workers {
		if err := launch("worker-"+strconv.Itoa(i), "worker"); err != nil {
			return err
		}
	}
	// Let the workers connect and create their consumer before the clock starts.
	time.Sleep(time.Second)
	return measure(sc, simURL, "http://127.0.0.1:"+strconv.Itoa(ingestPort)+"/v1/events")
}

func writeConfig(dir, natsURL, simURL string, ingestPort int, sc scenario) (string, error) {
	var recs strings.Builder
	for i := range conversations {
		fmt.Fprintf(&recs, "\"customer:+1415557%04d\": {cust_tier: tier-%d}\n", i, i%5)
	}
	lookupPath := filepath.Join(dir, "lookup.yaml")
	if err := os.WriteFile(lookupPath, []byte(recs.String()), 0o600); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`log: {level: warn}
metrics: {addr: ""}
nats: {url: %q}
ingest:
  addr: "127.0.0.1:%d"
  auth: {methods: [none]}
genesys:
  login_url: %q
  api_url: %q
  client_id: %s
  client_secret: %s
  rate_per_minute: 100000000
  burst: 100000
lookup:
  file: {path: %q}
  record_fields: [cust_tier]
  attributes:
    - {name: cust_tier, field: cust_tier}
    - {name: last_event, event: eventId}
worker:
  concurrency: %d
sim:
  client_id: %s
  client_secret: %s
  faults: {latency: %s}
`, natsURL, ingestPort, simURL, simURL, clientID, clientSecret, lookupPath, sc.concurrency,
		clientID, clientSecret, sc.latency)
	path := filepath.Join(dir, "scriptsync.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

func convID(i int) string { return fmt.Sprintf("bench-%04d", i) }

func register(simURL string, i int, readiness time.Duration) error {
	body := fmt.Sprintf(`{"id": %q, "readiness_delay": %q, "participants": `+
		`[{"id": "agent", "purpose": "agent"}]}`, convID(i), readiness)
	resp, err := http.Post(simURL+"/admin/conversations", "application/json",
		strings.NewReader(body))
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("register %s: status %d", convID(i), resp.StatusCode)
	}
	return nil
}

func registerAll(simURL string) error {
	for i := range conversations {
		if err := register(simURL, i, 0); err != nil {
			return err
		}
	}
	return nil
}

func eventBody(n, conv int) []byte {
	return fmt.Appendf(nil, `{"eventId":"ev-%d","eventType":"agent:script:step:entered",`+
		`"occurredAt":%q,"conversationId":%q,"participantId":"agent",`+
		`"ani":"tel:+1415557%04d"}`, n, time.Now().UTC().Format(time.RFC3339Nano),
		convID(conv), conv)
}

type write struct {
	Time           time.Time         `json:"time"`
	ConversationID string            `json:"conversation_id"`
	Attributes     map[string]string `json:"attributes"`
}

type convState struct {
	ID      string    `json:"id"`
	ReadyAt time.Time `json:"ready_at"`
}

func measure(sc scenario, simURL, ingestURL string) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		Timeout: 30 * time.Second}
	var rejected atomic.Int64
	var sent sync.Map // event id -> time its post was sent
	start := time.Now()
	if sc.rate > 0 {
		if err := postPaced(sc, client, simURL, ingestURL, &rejected, &sent); err != nil {
			return err
		}
	} else {
		postFlat(sc, client, ingestURL, &rejected, &sent)
	}
	posted := time.Since(start)
	want := sc.events - int(rejected.Load())
	deadline := time.Now().Add(5 * time.Minute)
	var writes []write
	for {
		var err error
		writes, err = fetchWrites(simURL)
		if err != nil {
			return err
		}
		if len(writes) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	last := start
	for _, w := range writes {
		if w.Time.After(last) {
			last = w.Time
		}
	}
	elapsed := last.Sub(start)
	note := fmt.Sprintf("posting took %.1fs", posted.Seconds())
	if rejected.Load() > 0 {
		note += fmt.Sprintf(", %d rejected", rejected.Load())
	}
	var p50, p99 string
	if sc.readiness > 0 {
		delays, err := landingDelays(simURL, writes)
		if err != nil {
			return err
		}
		p50, p99 = ms(pct(delays, .5)), ms(pct(delays, .99))
		note += " (p50/p99: write after readiness)"
	} else {
		delays := postToWrite(&sent, writes)
		p50, p99 = ms(pct(delays, .5)), ms(pct(delays, .99))
		note += " (p50/p99: post to write)"
	}
	if sc.latency > 0 {
		allowed := float64(sc.workers*sc.concurrency) / (2 * sc.latency.Seconds())
		note += fmt.Sprintf("; concurrency allows %.0f/s", allowed)
	}
	fmt.Printf("%-18s %7d %7d %10.0f %9s %9s %s\n", sc.name, sc.events, len(writes),
		float64(len(writes))/elapsed.Seconds(), p50, p99, note)
	return nil
}

// postFlat posts every event as fast as 64 connections allow, noting when each was sent.
func postFlat(sc scenario, client *http.Client, ingestURL string, rejected *atomic.Int64,
	sent *sync.Map) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= sc.events {
					return
				}
				sent.Store("ev-"+strconv.Itoa(n), time.Now())
				if !post(client, ingestURL, eventBody(n, n%conversations)) {
					rejected.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

// postPaced posts events at sc.rate a second. With sc.readiness set it first registers
// each event's conversation anew with a random readiness delay, then posts the event at
// once, as Genesys does before the participant is visible.
func postPaced(sc scenario, client *http.Client, simURL, ingestURL string,
	rejected *atomic.Int64, sent *sync.Map) error {
	tick := time.NewTicker(time.Second / time.Duration(sc.rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for n := range sc.events {
		<-tick.C
		conv := n % conversations
		if sc.readiness > 0 {
			delay := time.Duration(rand.Int64N(int64(sc.readiness)))
			if err := register(simURL, conv, delay); err != nil {
				return err
			}
		}
		sent.Store("ev-"+strconv.Itoa(n), time.Now())
		wg.Go(func() {
			if !post(client, ingestURL, eventBody(n, conv)) {
				rejected.Add(1)
			}
		})
	}
	wg.Wait()
	return nil
}

func post(client *http.Client, url string, body []byte) bool {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusAccepted
}

func fetchWrites(simURL string) ([]write, error) {
	resp, err := http.Get(simURL + "/admin/writes")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var ws []write
	return ws, json.NewDecoder(resp.Body).Decode(&ws)
}

func landingDelays(simURL string, writes []write) ([]time.Duration, error) {
	resp, err := http.Get(simURL + "/admin/state?writes=false")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var st struct {
		Conversations []convState `json:"conversations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	ready := map[string]time.Time{}
	for _, c := range st.Conversations {
		ready[c.ID] = c.ReadyAt
	}
	var out []time.Duration
	for _, w := range writes {
		out = append(out, w.Time.Sub(ready[w.ConversationID]))
	}
	slices.Sort(out)
	return out, nil
}

// postToWrite is, for each write, the time from sending the post of the event it names
// (the mapping writes the event's id) to the write.
func postToWrite(sent *sync.Map, writes []write) []time.Duration {
	var out []time.Duration
	for _, w := range writes {
		if t, ok := sent.Load(w.Attributes["last_event"]); ok {
			out = append(out, w.Time.Sub(t.(time.Time)))
		}
	}
	slices.Sort(out)
	return out
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[int(float64(len(d)-1)*p)]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + "ms"
}
