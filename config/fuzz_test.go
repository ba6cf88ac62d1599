package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// settingPath is how every validation error starts: the setting's YAML path.
var settingPath = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\[\d+\](\.[a-z_]+)?)?: `)

// FuzzLoad runs a YAML file and an environment through the whole loading path. Loading
// never panics; what it accepts passes the checks below, which restate the rules a valid
// configuration must keep, and survives being written out and read back; what it refuses
// is refused with errors that each name their setting.
//
// env is KEY=VALUE lines. A key ending in _FILE is pointed at a file holding fileContent,
// so the fuzzer can reach the file branch without reading the machine's files.
func FuzzLoad(f *testing.F) {
	dev, err := yaml.Marshal(DevDefault())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dev, "", "")
	f.Add([]byte(""), "", "")
	f.Add([]byte("ingest:\n  auth:\n    methods: [none]\n"), "SCRIPTSYNC_LOG_LEVEL=debug", "")
	f.Add([]byte("ingest:\n  auth:\n    methods: [hmac]\n"),
		"SCRIPTSYNC_INGEST_AUTH_HMAC_SECRETS_FILE=x", "one-secret-of-32-characters-long\nb")
	f.Add([]byte("ingest:\n  auth:\n    methods: [none]\nworker:\n  ack_wait: 1s\n"),
		"SCRIPTSYNC_WORKER_ATTEMPT_TIMEOUT=2s\nSCRIPTSYNC_STREAM_PARTITIONS=0", "")
	f.Add([]byte("lookup:\n  attributes:\n    - {name: a, field: b, value: c}\n"),
		"SCRIPTSYNC_SIM_FAULTS_ERROR_RATE=1.5\nSCRIPTSYNC_GENESYS_REGION=mars", "")
	f.Add([]byte("nats: [1, 2]\nmetrics: {addr: 'no-port'}\n"), "SCRIPTSYNC_LOG_LEVEL=x", "")
	f.Add([]byte("log: &a {level: *a}\n"), "SCRIPTSYNC_LOG_LEVEL_FILE=x\nSCRIPTSYNC_LOG_LEVEL=y",
		"")
	f.Add([]byte("ingest: {max_body_bytes: 99999999999999999999}\n"),
		"SCRIPTSYNC_INGEST_MAX_BODY_BYTES=-1\nSCRIPTSYNC_LOOKUP_ATTRIBUTES=x", "")
	f.Fuzz(func(t *testing.T, data []byte, env, fileContent string) {
		environ := fuzzEnviron(t, env, fileContent)
		cfg, err := loadBytes(data, environ)
		if err != nil {
			checkNamed(t, err)
			return
		}
		checkValid(t, cfg)
		checkRoundTrip(t, cfg)
	})
}

// fuzzEnviron turns the fuzzer's env lines into an environment.
func fuzzEnviron(t *testing.T, env, fileContent string) []string {
	var environ []string
	for line := range strings.SplitSeq(env, "\n") {
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if strings.HasSuffix(k, "_FILE") {
			path := filepath.Join(t.TempDir(), "value")
			if err := os.WriteFile(path, []byte(fileContent), 0o600); err != nil {
				t.Fatal(err)
			}
			line = k + "=" + path
		}
		environ = append(environ, line)
	}
	return environ
}

// loadBytes is LoadWith with the file's bytes in hand.
func loadBytes(data []byte, environ []string) (*Config, error) {
	cfg := Default()
	if err := decodeYAML(data, &cfg); err != nil {
		return nil, err
	}
	if err := overlayEnv(&cfg, environ); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// checkNamed holds every validation error to naming its setting. Errors from the YAML
// decoder and the environment name the file's line or the variable instead.
func checkNamed(t *testing.T, err error) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if err.Error() == "" {
			t.Fatal("an empty error")
		}
		return
	}
	for _, e := range joined.Unwrap() {
		if !settingPath.MatchString(e.Error()) {
			t.Fatalf("a validation error that names no setting: %q", e.Error())
		}
	}
}

// checkValid restates, independently of Validate, rules every accepted configuration
// must keep: the ones whose breach would show only once the process runs.
func checkValid(t *testing.T, c *Config) {
	t.Helper()
	w, in, s := c.Worker, c.Ingest, c.Stream
	var errs []error
	must := func(ok bool, what string) {
		if !ok {
			errs = append(errs, errors.New(what))
		}
	}
	must(w.AckWait > w.AttemptTimeout && w.AttemptTimeout > 0, "ack_wait > attempt_timeout > 0")
	must(w.LeaseTTL > w.AttemptTimeout, "lease_ttl > attempt_timeout")
	must(w.Concurrency >= 1 && w.Concurrency <= 4096, "worker.concurrency in range")
	must(in.WriteTimeout > in.PublishTimeout, "write_timeout > publish_timeout")
	must(in.MaxBodyBytes >= 1024 && in.MaxBodyBytes <= 64<<20, "max_body_bytes in range")
	must(in.ReadHeaderTimeout > 0 && in.ReadTimeout > 0, "read timeouts positive")
	must(s.Partitions >= 1 && s.Partitions <= 1024, "partitions in range")
	must(s.Duplicates > 0 && s.Duplicates <= s.MaxAge, "duplicates within max_age")
	must(c.Sim.TokenLifetime >= time.Second, "sim.token_lifetime at least 1s")
	must(c.Sim.Faults.ErrorRate >= 0 && c.Sim.Faults.ErrorRate <= 1, "error_rate in 0..1")
	must(c.Lookup.Timeout > 0 && len(c.Lookup.Keys) > 0, "lookup timeout and keys")
	must(strings.Contains(" debug info warn error ", " "+c.Log.Level+" ") && c.Log.Level != "",
		"log level")
	must(c.Log.Format == "json" || c.Log.Format == "console", "log format")
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("accepted a configuration that breaks: %v", err)
	}
}

// checkRoundTrip writes an accepted configuration out as YAML and loads it again: what
// `scriptsync config` prints must load back to the same settings.
func checkRoundTrip(t *testing.T, c *Config) {
	t.Helper()
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatalf("marshal an accepted configuration: %v", err)
	}
	back, err := loadBytes(out, nil)
	if err != nil {
		t.Fatalf("an accepted configuration does not load back: %v\n%s", err, out)
	}
	again, err := yaml.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Fatalf("round trip changed the configuration:\n%s\n---\n%s", out, again)
	}
}
