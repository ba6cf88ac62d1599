// Package app builds scriptsync's long-running parts from the configuration. The command
// line and the end-to-end tests both use it, so the tests run what operators run.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/genesys"
	"github.com/scriptsync/scriptsync/genesys/redislimit"
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
	glog := log.With(zap.String("component", "genesys"))
	limiter, closeLimiter, err := sharedLimiter(ctx, cfg, reg, glog)
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := genesys.New(genesysConfig(cfg), genesys.Options{
		Logger: glog, Registerer: reg, Namespace: cfg.Metrics.Namespace, Limiter: limiter,
	})
	if err != nil {
		closeLimiter()
		return nil, nil, nil, fmt.Errorf("genesys client: %w", err)
	}
	lk, err := lookup.New(ctx, cfg.Lookup, lookup.Options{
		Logger: log.With(zap.String("component", "lookup")), Registerer: reg,
		Namespace: cfg.Metrics.Namespace,
	})
	if err != nil {
		closeLimiter()
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
	return w, ready, func() { _ = lk.Close(); closeLimiter() }, nil
}

// sharedLimiter connects to the Redis of genesys.shared_limit when it is set. A nil
// Limiter leaves the client with its process-local one. Redis must answer at start-up, so
// a wrong address stops the worker instead of silently pacing each process alone.
func sharedLimiter(ctx context.Context, cfg *config.Config, reg prometheus.Registerer,
	log *zap.Logger) (genesys.Limiter, func(), error) {
	sl := cfg.Genesys.SharedLimit
	if !sl.Enabled() {
		return nil, func() {}, nil
	}
	opts, err := redis.ParseURL(sl.RedisURL)
	if err != nil {
		// The URL is not printed: it may hold a password.
		return nil, nil, errors.New("genesys.shared_limit.redis_url: not a Redis URL")
	}
	opts.ClientName = "scriptsync-limit"
	// genesys.shared_limit.timeout must cut a stalled Redis short, not only the socket
	// timeouts of several seconds.
	opts.ContextTimeoutEnabled = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{
		Mode: maintnotifications.ModeDisabled,
	}
	rc := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rc.Ping(pingCtx).Err(); err != nil {
		_ = rc.Close()
		return nil, nil, fmt.Errorf("genesys.shared_limit: ping redis at %s: %w", opts.Addr,
			err)
	}
	lim, err := redislimit.New(rc, redislimit.Options{
		Key: sl.Key, PerMinute: cfg.Genesys.RatePerMinute, Burst: cfg.Genesys.Burst,
		Timeout: sl.Timeout, Logger: log, Registerer: reg, Namespace: cfg.Metrics.Namespace,
	})
	if err == nil {
		err = lim.Ready(pingCtx)
	}
	if err != nil {
		_ = rc.Close()
		return nil, nil, fmt.Errorf("genesys.shared_limit: %w", err)
	}
	log.Info("genesys rate limit shared through redis", zap.String("addr", opts.Addr),
		zap.String("key", sl.Key), zap.Int("rate_per_minute", cfg.Genesys.RatePerMinute))
	return lim, func() { _ = rc.Close() }, nil
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
