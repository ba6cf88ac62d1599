package main

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/adminapi"
	"github.com/scriptsync/scriptsync/internal/console"
	"github.com/scriptsync/scriptsync/internal/ops"
)

// mount adds routes to the admin listener; ctx ends when the listener stops, and g is the
// process's own metrics registry.
type mount func(ctx context.Context, mux *http.ServeMux, g prometheus.Gatherer)

// adminAPI returns the operator API's routes for the admin listener, or nil when the API
// is off, and logs which at start-up. It is off unless admin.token is set: never open.
func adminAPI(cfg *config.Config, js jetstream.JetStream, log *zap.Logger) (mount, error) {
	switch {
	case !cfg.Admin.Enabled:
		log.Info("admin api off: admin.enabled is false")
		return nil, nil
	case cfg.Admin.Token == "":
		log.Info("admin api off: admin.token is not set")
		return nil, nil
	case cfg.Metrics.Addr == "":
		log.Warn("admin api off: metrics.addr is empty, so there is no admin listener")
		return nil, nil
	}
	h, err := adminapi.New(adminapi.Options{
		Ops: ops.New(ops.Options{JS: js, Stream: cfg.Stream, DeadLetter: cfg.Worker.DeadLetter,
			Consumer: cfg.Worker.Consumer}),
		Token: cfg.Admin.Token, ReplayRate: cfg.Admin.ReplayRate,
		Logger: log.With(zap.String("component", "admin_api")),
	})
	if err != nil {
		return nil, err
	}
	log.Info("admin api on", zap.String("addr", cfg.Metrics.Addr),
		zap.String("path", adminapi.Prefix), zap.String("console", console.Path))
	return func(ctx context.Context, mux *http.ServeMux, g prometheus.Gatherer) {
		mux.Handle(adminapi.Prefix, h)
		// The console's pages and endpoints, behind the same token; its sampler stops
		// when ctx ends, with the process.
		console.Start(ctx, mux, console.Options{JS: js, Stream: cfg.Stream,
			DeadLetter: cfg.Worker.DeadLetter, Consumer: cfg.Worker.Consumer, Gatherer: g,
			Namespace: cfg.Metrics.Namespace, Token: cfg.Admin.Token,
			Logger: log.With(zap.String("component", "console"))})
	}, nil
}
