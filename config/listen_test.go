package config_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/httpserve"
)

// Every listener can be kept off the network: the metrics (admin) listener, the ingest and
// the simulator with its admin API take loopback addresses from the file or the
// environment, and bind only there.
func TestListenersBindToLoopback(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "[::1]", "localhost"} {
		env := []string{
			"SCRIPTSYNC_METRICS_ADDR=" + host + ":0",
			"SCRIPTSYNC_INGEST_ADDR=" + host + ":0",
			"SCRIPTSYNC_SIM_ADDR=" + host + ":0",
			"SCRIPTSYNC_INGEST_AUTH_METHODS=none",
		}
		cfg, err := config.Load("", env)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		for name, addr := range map[string]string{"metrics": cfg.Metrics.Addr,
			"ingest": cfg.Ingest.Addr, "sim": cfg.Sim.Addr} {
			if addr != host+":0" {
				t.Errorf("%s: %s.addr = %q", host, name, addr)
				continue
			}
			bindsLoopback(t, name, addr)
		}
	}
}

// The local defaults already keep the admin listener and the simulator on loopback.
func TestLocalDefaultsAreLoopback(t *testing.T) {
	dev := config.DevDefault()
	for name, addr := range map[string]string{"metrics.addr": dev.Metrics.Addr,
		"ingest.addr": dev.Ingest.Addr, "sim.addr": dev.Sim.Addr,
		"sim.addr (production defaults)": config.Default().Sim.Addr} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !net.ParseIP(host).IsLoopback() {
			t.Errorf("%s = %q, want a loopback address", name, addr)
		}
	}
}

// bindsLoopback listens on addr as the processes do, and checks the listener is on a
// loopback address and answers there.
func bindsLoopback(t *testing.T, name, addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := httpserve.Listen(ctx, name, addr, http.NotFoundHandler(),
		httpserve.DefaultTimeouts, time.Second, zap.NewNop())
	if err != nil {
		cancel()
		if host, _, _ := net.SplitHostPort(addr); host == "[::1]" || host == "::1" {
			t.Logf("%s: no IPv6 loopback here: %v", name, err)
			return
		}
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	host, _, err := net.SplitHostPort(srv.Addr())
	if err != nil || !net.ParseIP(host).IsLoopback() {
		t.Fatalf("%s bound %s, want a loopback address", name, srv.Addr())
	}
	resp, err := http.Get("http://" + srv.Addr() + "/")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	_ = resp.Body.Close()
}
