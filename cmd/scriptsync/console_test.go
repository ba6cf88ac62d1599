package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// TestConsoleOnTheAdminListener: the console's pages are served where the admin API is,
// and its endpoints want the same token.
func TestConsoleOnTheAdminListener(t *testing.T) {
	t.Parallel()
	f := setupOps(t)
	cfg := f.cfg
	cfg.Metrics.Addr = "127.0.0.1:0"
	cfg.Admin.Token = "cmd-console-token-0123456789"
	log := zaptest.NewLogger(t)
	api, err := adminAPI(&cfg, f.js, log)
	if err != nil || api == nil {
		t.Fatalf("api: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := adminServer(ctx, cfg.Metrics, newRegistry(),
		func(context.Context) error { return nil }, log, api)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("admin listener: %v", err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	get := func(path, token string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	testsupport.Eventually(t, 5*time.Second, func() bool { return get("/healthz", "") == 200 },
		"the admin listener answers")
	if code := get("/console/", ""); code != http.StatusOK {
		t.Errorf("the console's page: %d", code)
	}
	if code := get("/admin/v1/overview", ""); code != http.StatusUnauthorized {
		t.Errorf("the overview without the token: %d", code)
	}
	if code := get("/admin/v1/overview", cfg.Admin.Token); code != http.StatusOK {
		t.Errorf("the overview with the token: %d", code)
	}
	if code := get("/admin/v1/dead-letters", cfg.Admin.Token); code != http.StatusOK {
		t.Errorf("the admin api beside the console: %d", code)
	}
}
