package main

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/app"
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
	if err := cfg.Ingest.RequireAuth(); err != nil {
		return usageError{err}
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
	srv, ready, err := app.Ingest(ctx, cfg, conn, reg, log)
	if err != nil {
		return err
	}
	api, err := adminAPI(cfg, conn.JS, log)
	if err != nil {
		return err
	}
	admin, err := adminServer(ctx, cfg.Metrics, reg, ready, log, api)
	if err != nil {
		return err
	}
	return runAll(ctx, srv, admin)
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
