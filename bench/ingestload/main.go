// Command ingestload measures the ingest under HTTP load: unique 1 KiB events from many
// connections against the real ingest process and a real nats-server process, and in the
// same run against a bare handler that only publishes with a message id and waits for the
// PubAck, so the ratio of the two shows what the ingest's own work costs.
//
// Usage: go run ./bench/ingestload -scriptsync bin/scriptsync -nats-server bin/nats-server
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/bench/internal/proc"
)

const secret = "ingestload-hmac-secret-0123456789"

// profileOut, when set, receives a CPU profile of the ingest process.
var profileOut string

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve-bare" {
		if err := serveBare(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "serve-bare:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ingestload:", err)
		os.Exit(1)
	}
}

type result struct {
	name     string
	ok, fail int64
	elapsed  time.Duration
	lat      []time.Duration
}

func run() error {
	scriptsync := flag.String("scriptsync", "bin/scriptsync", "scriptsync binary")
	natsServer := flag.String("nats-server", "bin/nats-server", "nats-server binary")
	conns := flag.Int("c", 64, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "measured duration of each run")
	warm := flag.Duration("warmup", 2*time.Second, "warm-up before measuring")
	rounds := flag.Int("rounds", 2, "runs of each target, alternating")
	flag.StringVar(&profileOut, "cpuprofile", "", "write the ingest's CPU profile of its "+
		"first measured run to this file")
	flag.Parse()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var results []result
	for round := range *rounds {
		for _, target := range []string{"bare", "ingest"} {
			r, err := runTarget(target, round, self, *scriptsync, *natsServer, *conns, *warm, *dur)
			if err != nil {
				return fmt.Errorf("%s: %w", target, err)
			}
			results = append(results, r)
			report(r)
		}
	}
	summarize(results)
	return nil
}

func runTarget(target string, round int, self, scriptsync, natsServer string, conns int,
	warm, dur time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "ingestload")
	if err != nil {
		return result{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ns, natsURL, err := proc.NATSServer(natsServer, dir)
	if err != nil {
		return result{}, err
	}
	defer proc.Stop(ns)
	httpPort := proc.FreePort()
	var srv *exec.Cmd
	addr := "127.0.0.1:" + strconv.Itoa(httpPort)
	adminAddr := "127.0.0.1:" + strconv.Itoa(proc.FreePort())
	if target == "bare" {
		srv = exec.Command(self, "serve-bare", natsURL, addr)
	} else {
		srv = exec.Command(scriptsync, "ingest")
		srv.Env = append(os.Environ(),
			"SCRIPTSYNC_NATS_URL="+natsURL,
			"SCRIPTSYNC_INGEST_ADDR="+addr,
			"SCRIPTSYNC_METRICS_ADDR="+adminAddr,
			"SCRIPTSYNC_METRICS_PPROF=true",
			"SCRIPTSYNC_LOG_LEVEL=warn",
			"SCRIPTSYNC_INGEST_AUTH_METHODS=hmac",
			"SCRIPTSYNC_INGEST_AUTH_HMAC_SECRETS="+secret,
		)
	}
	if err := proc.Start(srv, dir, target+".log"); err != nil {
		return result{}, err
	}
	defer proc.Stop(srv)
	if err := proc.WaitTCP(httpPort); err != nil {
		return result{}, err
	}
	// The ingest creates its stream at start-up, before it listens; the bare handler
	// does the same, so both are ready once the port answers.
	url := "http://" + addr + "/v1/events"
	if target == "ingest" && profileOut != "" {
		out := profileOut
		profileOut = ""
		go fetchProfile("http://"+adminAddr+"/debug/pprof/profile?seconds="+
			strconv.Itoa(int(dur.Seconds())), warm, out)
	}
	return load(fmt.Sprintf("%s#%d", target, round+1), url, conns, warm, dur), nil
}

func load(name, url string, conns int, warm, dur time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var seq atomic.Int64
	var measuring atomic.Bool
	var ok, fail atomic.Int64
	lats := make([][]time.Duration, conns)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	pad := strings.Repeat("x", 820)
	for i := range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				body := []byte(fmt.Sprintf(`{"eventId":"load-%d","eventType":"agent:script:step:`+
					`entered","conversationId":"conv-%d","participantId":"part-%d",`+
					`"occurredAt":"2026-12-03T16:00:01.250Z","ani":"tel:+14155550123",`+
					`"pad":"%s"}`, seq.Add(1), i, i, pad))
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url,
					bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				mac := hmac.New(sha256.New, []byte(secret))
				mac.Write(body)
				req.Header.Set("X-Hub-Signature-256",
					"sha256="+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
				start := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				if !measuring.Load() {
					continue
				}
				if err != nil || resp.StatusCode != http.StatusAccepted {
					if ctx.Err() == nil {
						fail.Add(1)
					}
					continue
				}
				ok.Add(1)
				lats[i] = append(lats[i], time.Since(start))
			}
		})
	}
	time.Sleep(warm)
	measuring.Store(true)
	began := time.Now()
	time.Sleep(dur)
	measuring.Store(false)
	elapsed := time.Since(began)
	cancel()
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	return result{name: name, ok: ok.Load(), fail: fail.Load(), elapsed: elapsed, lat: all}
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[int(float64(len(l)-1)*p)]
}

func report(r result) {
	fmt.Printf("%-10s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  ok %d  failed %d\n", r.name,
		float64(r.ok)/r.elapsed.Seconds(), ms(pct(r.lat, .5)), ms(pct(r.lat, .99)), r.ok, r.fail)
}

func summarize(rs []result) {
	var bare, ing []result
	for _, r := range rs {
		if strings.HasPrefix(r.name, "bare") {
			bare = append(bare, r)
		} else {
			ing = append(ing, r)
		}
	}
	b, i := merge(bare), merge(ing)
	fmt.Printf("\nbare    %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n", rate(b), ms(pct(b.lat, .5)),
		ms(pct(b.lat, .99)))
	fmt.Printf("ingest  %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n", rate(i), ms(pct(i.lat, .5)),
		ms(pct(i.lat, .99)))
	fmt.Printf("ratio   throughput %.2f  p99 %.2f\n", rate(i)/rate(b),
		ms(pct(i.lat, .99))/ms(pct(b.lat, .99)))
}

func merge(rs []result) result {
	var m result
	for _, r := range rs {
		m.ok += r.ok
		m.elapsed += r.elapsed
		m.lat = append(m.lat, r.lat...)
	}
	slices.Sort(m.lat)
	return m
}

func rate(r result) float64 { return float64(r.ok) / r.elapsed.Seconds() }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// serveBare is the floor the ingest is compared with: read the body, publish it with a
// message id, wait for the PubAck, answer 202.
func serveBare(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: serve-bare NATS_URL ADDR")
	}
	nc, err := nats.Connect(args[0])
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "BARE", Subjects: []string{"bare.>"}, Storage: jetstream.FileStorage,
		Duplicates: time.Hour,
	}); err != nil {
		return err
	}
	var n atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		id := strconv.FormatInt(n.Add(1), 10)
		fut, err := js.PublishMsgAsync(&nats.Msg{Subject: "bare.events", Data: body},
			jetstream.WithMsgID(id))
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		select {
		case <-fut.Ok():
			w.WriteHeader(http.StatusAccepted)
		case err := <-fut.Err():
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	srv := &http.Server{Addr: args[1], Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}

func fetchProfile(url string, after time.Duration, out string) {
	time.Sleep(after)
	resp, err := http.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(out, data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
	}
}
