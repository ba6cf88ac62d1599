package main

import (
	"context"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/app"
	"github.com/scriptsync/scriptsync/internal/broker"
)

// runDev runs the whole pipeline in one process for local runs: an embedded NATS with
// JetStream and the ingest.
func runDev(ctx context.Context, e *env, args []string) error {
	fs, path := e.flags("dev")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path, config.DevDefault())
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
	srv, ready, err := app.Ingest(ctx, cfg, conn, reg, log)
	if err != nil {
		return err
	}
	admin, err := adminServer(ctx, cfg.Metrics, reg, ready, log)
	if err != nil {
		return err
	}
	return runAll(ctx, srv, admin)
}
