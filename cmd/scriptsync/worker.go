package main

import (
	"context"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/app"
	"github.com/scriptsync/scriptsync/internal/broker"
)

// runWorker consumes stored events and writes participant attributes until signalled.
func runWorker(ctx context.Context, e *env, args []string) error {
	fs, path := e.flags("worker")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path, config.Default())
	if err != nil {
		return err
	}
	if err := cfg.Genesys.RequireCredentials(); err != nil {
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
	w, ready, closeLookup, err := app.Worker(ctx, cfg, conn, reg, log)
	if err != nil {
		return err
	}
	defer closeLookup()
	api, err := adminAPI(cfg, conn.JS, log)
	if err != nil {
		return err
	}
	admin, err := adminServer(ctx, cfg.Metrics, reg, ready, log, api)
	if err != nil {
		return err
	}
	return runAll(ctx, w, admin)
}
