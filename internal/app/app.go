// Package app builds scriptsync's long-running parts from the configuration. The command
// line and the end-to-end tests both use it, so the tests run what operators run.
package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/genesys"
	"github.com/scriptsync/scriptsync/ingest"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/httpserve"
	"github.com/scriptsync/scriptsync/lookup"
	"github.com/scriptsync/scriptsync/worker"
)

// ReadyFunc reports whether a process can do its work now.
type ReadyFunc func(context.Context) error

// Ingest prepares the ingest's HTTP server: the stream, the authenticator, the publisher
// and the handler, bound to ingest.addr.
func Ingest(ctx context.Context, cfg *config.Config, conn *broker.Conn,
	reg prometheus.Registerer, log *zap.Logger) (*httpserve.Server, ReadyFunc, error) {
	if err := cfg.Ingest.RequireAuth(); err != nil {
		return nil, nil, err
	}
	stream, err := broker.EnsureEventStream(ctx, conn.JS, cfg.Stream)
	if err != nil {
		return nil, nil, err
	}
	auth, err := ingest.NewAuthenticator(cfg.Ingest.Auth, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if auth.Open() {
		log.Warn("ingest.auth.methods is none: every request is accepted without credentials")
	}
	ready := func(ctx context.Context) error {
		if !conn.Connected() {
			return errors.New("not connected to nats")
		}
		if _, err := stream.Info(ctx); err != nil {
			return fmt.Errorf("stream %s: %w", cfg.Stream.Name, err)
		}
		return nil
	}
	h := ingest.NewHandler(ingest.HandlerOptions{
		Config:    cfg.Ingest,
		Auth:      auth,
		Publisher: ingest.NewJetStreamPublisher(conn.NC, conn.JS, cfg.Stream),
		Ready:     ready,
		Logger:    log,
		Metrics:   ingest.NewMetrics(reg, cfg.Metrics.Namespace),
	})
	in := cfg.Ingest
	srv, err := httpserve.Listen(ctx, "ingest", in.Addr, h, httpserve.Timeouts{
		ReadHeader: in.ReadHeaderTimeout, Read: in.ReadTimeout,
		Write: in.WriteTimeout, Idle: in.IdleTimeout,
	}, in.ShutdownGrace, log)
	return srv, ready, err
}

// Worker prepares a worker with its Genesys client and lookup. close releases the lookup
// once the worker has stopped.
func Worker(ctx context.Context, cfg *config.Config, conn *broker.Conn,
	reg prometheus.Registerer, log *zap.Logger) (w *worker.Worker, ready ReadyFunc,
	closeFn func(), err error) {
	if err := cfg.Genesys.RequireCredentials(); err != nil {
		return nil, nil, nil, err
	}
	// The stream must exist before the consumer; a worker started before any ingest
	// creates it itself.
	if _, err := broker.EnsureEventStream(ctx, conn.JS, cfg.Stream); err != nil {
		return nil, nil, nil, err
	}
	client, err := genesys.New(genesysConfig(cfg), genesys.Options{
		Logger: log.With(zap.String("component", "genesys")), Registerer: reg,
		Namespace: cfg.Metrics.Namespace,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("genesys client: %w", err)
	}
	lk, err := lookup.New(ctx, cfg.Lookup, lookup.Options{
		Logger: log.With(zap.String("component", "lookup")), Registerer: reg,
		Namespace: cfg.Metrics.Namespace,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("lookup: %w", err)
	}
	w = worker.New(worker.Options{
		Config: cfg.Worker, Stream: cfg.Stream, JS: conn.JS, Genesys: client, Lookup: lk,
		Logger: log, Registerer: reg, Namespace: cfg.Metrics.Namespace,
	})
	ready = func(context.Context) error {
		if !conn.Connected() {
			return errors.New("not connected to nats")
		}
		return nil
	}
	return w, ready, func() { _ = lk.Close() }, nil
}

// GenesysConfig maps the configuration section onto the client's own settings; the
// genesys package knows nothing of the config package.
func GenesysConfig(c config.Genesys) genesys.Config {
	return genesys.Config{
		Region: c.Region, LoginURL: c.LoginURL, APIURL: c.APIURL,
		ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Timeout: c.Timeout, RatePerMinute: c.RatePerMinute, Burst: c.Burst,
		PerMediaPath: c.PerMediaPath, MaxValueLength: c.MaxValueLength,
		MaxAttributes: c.MaxAttributes,
	}
}

// genesysConfig adds the worker's cap on rate-limit pauses, so a 429 never holds the whole
// process longer than it holds the event that got it.
func genesysConfig(cfg *config.Config) genesys.Config {
	g := GenesysConfig(cfg.Genesys)
	g.MaxRateLimitPause = cfg.Worker.Retry.RateLimitedMaxWait
	return g
}
