package main

import (
	"context"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/app"
	"github.com/scriptsync/scriptsync/internal/broker"
)

// runDev runs the whole pipeline in one process for local runs: an embedded NATS with
// JetStream, the Genesys simulator seeded with the sample conversations, the ingest, and
// a worker reading the sample lookup file.
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
	simSvc, err := buildSim(ctx, cfg.Sim, log)
	if err != nil {
		return err
	}
	// Point the worker at the simulator's bound address, unless the configuration
	// points it elsewhere (a real org, say).
	if devURL := "http://" + config.DevDefault().Sim.Addr; cfg.Genesys.APIURL == devURL {
		cfg.Genesys.APIURL = "http://" + simSvc.Addr()
		cfg.Genesys.LoginURL = cfg.Genesys.APIURL
	}
	conn, err := broker.Connect(ctx, cfg.NATS, true, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	reg := newRegistry()
	ingestSrv, ready, err := app.Ingest(ctx, cfg, conn, reg, log)
	if err != nil {
		return err
	}
	w, _, closeLookup, err := app.Worker(ctx, cfg, conn, reg, log)
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
	log.Sugar().Infof("ready: post events to http://%s/v1/events; the simulator's state is "+
		"at http://%s/admin/state", ingestSrv.Addr(), simSvc.Addr())
	return runAll(ctx, simSvc, ingestSrv, w, admin)
}
