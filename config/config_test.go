package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/config"
)

// valid is the smallest file that passes validation on the production defaults.
const valid = `
ingest:
  auth:
    methods: [hmac]
    hmac:
      secrets: ["a-long-enough-secret-0123"]
`

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scriptsync.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFileAndEnvironment(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("from-a-file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keysFile, []byte("key-one-0123456789abc\nkey-two-0123456789abc\n"),
		0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(write(t, valid+"stream:\n  partitions: 8\n"), []string{
		"SCRIPTSYNC_INGEST_ADDR=127.0.0.1:9999",
		"SCRIPTSYNC_INGEST_PUBLISH_TIMEOUT=2s",
		"SCRIPTSYNC_INGEST_AUTH_METHODS=hmac,api_key",
		"SCRIPTSYNC_INGEST_AUTH_API_KEY_KEYS_FILE=" + keysFile,
		"SCRIPTSYNC_GENESYS_CLIENT_SECRET_FILE=" + secretFile,
		"SCRIPTSYNC_NATS_SYNC_ALWAYS=true",
		"OTHER_VARIABLE=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Stream.Partitions != 8 || cfg.Ingest.Addr != "127.0.0.1:9999" ||
		cfg.Ingest.PublishTimeout != 2*time.Second || !cfg.NATS.SyncAlways {
		t.Errorf("file or environment not applied: %+v", cfg)
	}
	if got := strings.Join(cfg.Ingest.Auth.Methods, ","); got != "hmac,api_key" {
		t.Errorf("methods = %q", got)
	}
	if len(cfg.Ingest.Auth.APIKey.Keys) != 2 || cfg.Ingest.Auth.APIKey.Keys[1] !=
		"key-two-0123456789abc" {
		t.Errorf("keys from file: %q", cfg.Ingest.Auth.APIKey.Keys)
	}
	if cfg.Genesys.ClientSecret != "from-a-file-secret" {
		t.Errorf("secret from file: %q", cfg.Genesys.ClientSecret)
	}
	if cfg.Worker.Concurrency != config.Default().Worker.Concurrency {
		t.Error("an untouched setting lost its default")
	}
}

func TestLoadRejects(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		mention    string
	}{
		{"unknown key", valid + "ingest_typo: {}\n", nil, "ingest_typo"},
		{"bad duration", valid, []string{"SCRIPTSYNC_INGEST_PUBLISH_TIMEOUT=soon"},
			"SCRIPTSYNC_INGEST_PUBLISH_TIMEOUT"},
		{"both value and file", valid, []string{"SCRIPTSYNC_GENESYS_CLIENT_SECRET=x",
			"SCRIPTSYNC_GENESYS_CLIENT_SECRET_FILE=/nonexistent"}, "both"},
		{"missing secret file", valid, []string{
			"SCRIPTSYNC_GENESYS_CLIENT_SECRET_FILE=/nonexistent/secret"}, "nonexistent"},
		{"out of range", valid + "stream:\n  partitions: 0\n", nil, "stream.partitions"},
		{"bad region", valid + "genesys:\n  region: mars-1\n", nil, "genesys.region"},
		{"none with others", "ingest: {auth: {methods: [none, hmac]}}", nil, `"none"`},
		{"lease shorter than attempt", valid + "worker: {lease_ttl: 5s}\n", nil,
			"worker.lease_ttl"},
		{"ack pending below concurrency", valid + "worker: {max_ack_pending: 8}\n", nil,
			"worker.max_ack_pending"},
		{"list of structures from env", valid, []string{"SCRIPTSYNC_LOOKUP_ATTRIBUTES=x"},
			"only in the configuration file"},
		{"shared limit not a Redis URL", valid, []string{
			"SCRIPTSYNC_GENESYS_SHARED_LIMIT_REDIS_URL=http://redis:6379"},
			"genesys.shared_limit.redis_url"},
		{"shared limit without a key", valid, []string{
			"SCRIPTSYNC_GENESYS_SHARED_LIMIT_REDIS_URL=redis://redis:6379",
			"SCRIPTSYNC_GENESYS_SHARED_LIMIT_KEY="}, "genesys.shared_limit.key"},
	}
	for _, c := range cases {
		_, err := config.Load(write(t, c.file), c.env)
		if err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.mention)
		}
	}
}

func TestIngestNeedsAnAuthMethod(t *testing.T) {
	cfg, err := config.Load(write(t, ""), nil)
	if err != nil {
		t.Fatalf("a worker's configuration need not name an auth method: %v", err)
	}
	if err := cfg.Ingest.RequireAuth(); err == nil ||
		!strings.Contains(err.Error(), "ingest.auth.methods") {
		t.Fatalf("got %v, want an error naming ingest.auth.methods", err)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := config.Load(write(t, valid+"stream: {partitions: 0, replicas: 9}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "stream.partitions") ||
		!strings.Contains(err.Error(), "stream.replicas") {
		t.Fatalf("got %v, want both settings named", err)
	}
}

func TestMaskedYAMLHidesSecrets(t *testing.T) {
	cfg, err := config.Load(write(t, valid), []string{
		"SCRIPTSYNC_GENESYS_CLIENT_SECRET=genesys-secret-value",
		"SCRIPTSYNC_NATS_PASSWORD=nats-password-value",
		"SCRIPTSYNC_GENESYS_SHARED_LIMIT_REDIS_URL=redis://:limit-password-value@redis:6379",
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"genesys-secret-value", "nats-password-value",
		"limit-password-value", "a-long-enough-secret-0123"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("printed configuration shows %q", secret)
		}
	}
	if !strings.Contains(string(out), "client_secret: '********'") ||
		!strings.Contains(string(out), "publish_timeout: 5s") {
		t.Errorf("printed configuration:\n%s", out)
	}
}

func TestDefaultsOfDevAreValid(t *testing.T) {
	cfg := config.DevDefault()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("dev defaults invalid: %v", err)
	}
}
