package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/httpserve"
)

// adminServer serves /metrics, /healthz and /readyz on the metrics address, apart from
// the traffic port, so it can be bound to localhost or a private network, and the routes
// of every non-nil mount (the operator API). It returns nil when metrics.addr is empty.
func adminServer(ctx context.Context, cfg config.Metrics, reg *prometheus.Registry, ready func(context.Context) error,
	log *zap.Logger, mounts ...mount) (*httpserve.Server, error) {
	if cfg.Addr == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, "ok", "")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
		writeStatus(w, http.StatusOK, "ready", "")
	})
	if cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	for _, m := range mounts {
		if m != nil {
			m(ctx, mux, reg)
		}
	}
	return httpserve.Listen(ctx, "admin", cfg.Addr, mux, httpserve.DefaultTimeouts, 5*time.Second,
		log)
}

func writeStatus(w http.ResponseWriter, code int, status, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	body := map[string]string{"status": status}
	if reason != "" {
		body["reason"] = reason
	}
	_ = json.NewEncoder(w).Encode(body)
}
