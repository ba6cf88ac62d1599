// Package config holds scriptsync's configuration: one struct, its defaults, the YAML file
// and environment overlay that fill it, and the validation that runs before anything starts.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable that overrides a setting. The rest of the
// name is the setting's YAML path in upper case joined by underscores, so
// genesys.client_secret is SCRIPTSYNC_GENESYS_CLIENT_SECRET. Any string setting can also be
// read from a file named by the same variable with _FILE appended.
const EnvPrefix = "SCRIPTSYNC"

// EnvConfigFile names the configuration file when --config is not given.
const EnvConfigFile = EnvPrefix + "_CONFIG"

// Config is the whole configuration of every scriptsync process. Each process reads the
// sections it needs; the others keep their defaults and are still validated.
type Config struct {
	// Log sets how processes log.
	Log Log `yaml:"log"`
	// Metrics sets the admin listener that serves /metrics, /healthz and /readyz.
	Metrics Metrics `yaml:"metrics"`
	// NATS sets the connection to NATS, or the embedded server for local runs.
	NATS NATS `yaml:"nats"`
	// Stream sets the JetStream stream events are stored in.
	Stream Stream `yaml:"stream"`
	// Ingest sets the webhook receiver.
	Ingest Ingest `yaml:"ingest"`
	// Genesys sets the Genesys Cloud API client.
	Genesys Genesys `yaml:"genesys"`
	// Lookup sets where attribute values come from and how they are named.
	Lookup Lookup `yaml:"lookup"`
	// Worker sets the consumers that write participant attributes.
	Worker Worker `yaml:"worker"`
	// Sim sets the built-in Genesys Cloud simulator.
	Sim Sim `yaml:"sim"`
	// Admin sets the operator API for dead letters, served on the admin listener.
	Admin Admin `yaml:"admin"`
}

// Load reads the YAML file at path (none when path is empty) over the defaults, overlays
// the environment given as KEY=VALUE pairs, and validates the result. The error names every
// bad setting.
func Load(path string, environ []string) (*Config, error) {
	return LoadWith(Default(), path, environ)
}

// LoadWith is Load starting from base instead of Default, for commands such as dev whose
// starting point differs.
func LoadWith(base Config, path string, environ []string) (*Config, error) {
	cfg := base
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return nil, fmt.Errorf("parse config %s: %w", path, err)
		}
	}
	if err := overlayEnv(&cfg, environ); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return &cfg, err
	}
	return &cfg, nil
}

// decodeYAML decodes strictly: an unknown key is an error, so a misspelled setting fails at
// start-up instead of silently keeping its default.
func decodeYAML(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	if errors.Is(err, io.EOF) {
		// An empty file is a valid file: every setting keeps its default.
		return nil
	}
	return err
}

// Validate checks every section and returns all problems at once, each naming its setting.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, c.Log.validate()...)
	errs = append(errs, c.Metrics.validate()...)
	errs = append(errs, c.NATS.validate()...)
	errs = append(errs, c.Stream.validate()...)
	errs = append(errs, c.Ingest.validate()...)
	errs = append(errs, c.Genesys.validate()...)
	errs = append(errs, c.Lookup.validate()...)
	errs = append(errs, c.Worker.validate()...)
	errs = append(errs, c.Sim.validate()...)
	errs = append(errs, c.Admin.validate()...)
	return errors.Join(errs...)
}

// invalid builds one validation error naming the setting by its YAML path.
func invalid(setting, format string, args ...any) error {
	return fmt.Errorf("%s: %s", setting, fmt.Sprintf(format, args...))
}
