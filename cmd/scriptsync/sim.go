package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/httpserve"
)

// runSim runs the Genesys Cloud simulator standalone. It serves its own /healthz and
// admin API; it starts no metrics listener, so it can run beside another scriptsync
// process on one machine.
func runSim(ctx context.Context, e *env, args []string) error {
	fs, path := e.flags("sim")
	addr := fs.String("addr", "", "listen address; default sim.addr (127.0.0.1:8090)")
	if err := parse(fs, args); err != nil {
		return err
	}
	// The simulator is a tool for local runs and tests, never production: it starts from
	// the dev defaults, so it runs without a configuration file (the production defaults
	// leave settings of other sections, such as the ingest's authentication, unset).
	cfg, err := e.loadConfig(*path, config.SimDefault())
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Sim.Addr = *addr
	}
	log, err := newLogger(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	svc, err := buildSim(ctx, cfg.Sim, log)
	if err != nil {
		return err
	}
	return runAll(ctx, svc)
}

// simService is the simulator under the shared lifecycle.
type simService struct {
	server *sim.Server
	http   *httpserve.Server
}

// buildSim binds the simulator's address and prepares it to serve.
func buildSim(ctx context.Context, c config.Sim, log *zap.Logger) (*simService, error) {
	log = log.With(zap.String("component", "sim"))
	srv := sim.New(simOptions(c), log)
	if c.SeedFile != "" {
		if err := seedSim(srv, c.SeedFile); err != nil {
			return nil, err
		}
	}
	hs, err := httpserve.Listen(ctx, "sim", c.Addr, srv.Handler(), httpserve.DefaultTimeouts,
		5*time.Second, log)
	if err != nil {
		return nil, err
	}
	return &simService{server: srv, http: hs}, nil
}

// Addr is the bound address.
func (s *simService) Addr() string { return s.http.Addr() }

// Run serves until ctx ends. Shutdown first releases requests the hang and latency faults
// are holding, or the grace period would wait for requests built never to finish.
func (s *simService) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.server.Close)
	defer stop()
	return s.http.Run(ctx)
}

func simOptions(c config.Sim) sim.Options {
	f := c.Faults
	return sim.Options{
		ClientID:       c.ClientID,
		ClientSecret:   c.ClientSecret,
		TokenLifetime:  c.TokenLifetime,
		ReadinessDelay: c.ReadinessDelay,
		NotReadyStyle:  sim.NotReadyStyle(c.NotReadyStyle),
		WriteMode:      sim.WriteMode(c.WriteMode),
		AutoCreate:     c.AutoCreate,
		Faults: sim.Faults{
			Latency: f.Latency, Jitter: f.Jitter, ErrorRate: f.ErrorRate,
			ErrorStatus: f.ErrorStatus, RateLimitPerMinute: f.RateLimitPerMinute, HangRate: f.HangRate,
		},
	}
}

// seedConversation is one entry of sim.seed_file.
type seedConversation struct {
	ID           string `json:"id"`
	Participants []struct {
		ID         string            `json:"id"`
		Purpose    string            `json:"purpose"`
		Attributes map[string]string `json:"attributes"`
	} `json:"participants"`
}

// seedSim registers the conversations listed in a seed file.
func seedSim(srv *sim.Server, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("sim.seed_file: %w", err)
	}
	var convs []seedConversation
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&convs); err != nil {
		return fmt.Errorf("sim.seed_file %s: %w", path, err)
	}
	for _, c := range convs {
		spec := sim.ConversationSpec{ID: c.ID}
		for _, p := range c.Participants {
			spec.Participants = append(spec.Participants, sim.ParticipantSpec{
				ID: p.ID, Purpose: p.Purpose, Attributes: p.Attributes,
			})
		}
		if _, err := srv.RegisterConversation(spec); err != nil {
			return fmt.Errorf("sim.seed_file %s: conversation %s: %w", path, c.ID, err)
		}
	}
	return nil
}
