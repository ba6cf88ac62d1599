package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/ingest"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/httpserve"
)

func runIngest(ctx context.Context, e *env, args []string) error {
	fs, path := e.flags("ingest")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path, config.Default())
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	conn, err := broker.Connect(ctx, cfg.NATS, true, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	reg := newRegistry()
	srv, ready, err := buildIngest(ctx, cfg, conn, reg, log)
	if err != nil {
		return err
	}
	admin, err := adminServer(ctx, cfg.Metrics, reg, ready, log)
	if err != nil {
		return err
	}
	return runAll(ctx, srv, admin)
}

// buildIngest prepares the ingest's HTTP server: the stream, the authenticator, the
// publisher and the handler. It returns the readiness check for the admin listener too.
func buildIngest(ctx context.Context, cfg *config.Config, conn *broker.Conn,
	reg prometheus.Registerer, log *zap.Logger) (*httpserve.Server, func(context.Context) error,
	error) {
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

// runnable is the lifecycle every long-running part shares: Run blocks until ctx ends and
// the part has stopped.
type runnable interface {
	Run(ctx context.Context) error
}

// runAll runs parts until ctx ends or one fails; a failure stops the others. Nil parts
// (a listener switched off) are skipped.
func runAll(ctx context.Context, parts ...runnable) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range parts {
		if p == nil || isNilServer(p) {
			continue
		}
		g.Go(func() error {
			err := p.Run(gctx)
			if errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		})
	}
	return g.Wait()
}

func isNilServer(p runnable) bool {
	s, ok := p.(*httpserve.Server)
	return ok && s == nil
}
