package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets the configurations below carry; none may be printed.
const (
	hmacSecret    = "hmac-secret-0123456789"
	genesysSecret = "genesys-secret-value"
	natsPassword  = "hunter2"
)

const withAuth = "ingest: {auth: {methods: [hmac], hmac: {secrets: [" + hmacSecret + "]}}}\n"

// checkConfig runs scriptsync config check on a file with the given content and returns
// the exit status, stdout and stderr.
func checkConfig(t *testing.T, content string, args ...string) (int, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scriptsync.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{
		"SCRIPTSYNC_CONFIG=" + path,
		"SCRIPTSYNC_NATS_URL=nats://admin:" + natsPassword + "@n1:4222,nats://n2:4222",
		"SCRIPTSYNC_GENESYS_CLIENT_ID=client-id",
		"SCRIPTSYNC_GENESYS_CLIENT_SECRET=" + genesysSecret,
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"config", "check"}, args...), environ,
		&stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestConfigCheckValid(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := checkConfig(t, withAuth)
	if code != 0 || !strings.Contains(stderr, "configuration is valid for ingest, worker") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, secret := range []string{hmacSecret, genesysSecret, natsPassword} {
		if strings.Contains(stdout, secret) {
			t.Errorf("printed configuration shows %q:\n%s", secret, stdout)
		}
	}
	for _, want := range []string{"client_secret: '********'",
		"url: nats://admin:********@n1:4222,nats://n2:4222", "client_id: client-id"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("printed configuration lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "---") {
		t.Errorf("ingest and worker see one configuration, printed more:\n%s", stdout)
	}
}

// TestConfigCheckWithoutAuthMethods: only the ingest needs to know how senders
// authenticate, so the answer depends on the process checked for.
func TestConfigCheckWithoutAuthMethods(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"--for", "ingest"}, 2},
		{[]string{"--for", "worker"}, 0},
		{[]string{"--for", "sim, worker"}, 0},
		{[]string{"--for", "worker,ingest"}, 2},
	} {
		code, _, stderr := checkConfig(t, "log: {level: debug}\n", tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", tc.args, code, tc.code, stderr)
		}
		if code != 0 && !strings.Contains(stderr, "ingest.auth.methods: required") {
			t.Errorf("%v: the setting is not named:\n%s", tc.args, stderr)
		}
		if code != 0 && !strings.Contains(stderr, "(for ingest)") {
			t.Errorf("%v: the process is not named:\n%s", tc.args, stderr)
		}
	}
}

func TestConfigCheckBadValue(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := checkConfig(t, withAuth+"stream: {partitions: 0}\n")
	if code != 2 || !strings.Contains(stderr, "stream.partitions") ||
		!strings.Contains(stderr, "(for ingest, worker)") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "partitions: 0") {
		t.Errorf("an invalid configuration is still printed, to be looked at:\n%s", stdout)
	}
	code, _, stderr = checkConfig(t, "sim: {write_mode: sideways}\n", "--for", "sim")
	if code != 2 || !strings.Contains(stderr, "sim.write_mode") ||
		!strings.Contains(stderr, "(for sim)") {
		t.Fatalf("sim: exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = checkConfig(t, "stream: {partitons: 3}\n")
	if code != 2 || !strings.Contains(stderr, "partitons") {
		t.Fatalf("misspelt key: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestConfigCheckProcessDefaults: sim and dev start from local defaults, which need no
// file, and print their own configuration beside the others'.
func TestConfigCheckProcessDefaults(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--dev"}, {"--for", "dev"}, {"--for", "sim,dev"}} {
		code, _, stderr := checkConfig(t, "", args...)
		if code != 0 {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
	}
	code, stdout, _ := checkConfig(t, withAuth, "--for", "worker,sim")
	if code != 0 || !strings.Contains(stdout, "# effective configuration for worker\n") ||
		!strings.Contains(stdout, "---\n# effective configuration for sim\n") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
}

func TestConfigCheckUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--for", "ingest,nope"}, {"--for", " , "},
		{"--dev", "--for", "ingest"}, {"extra"}} {
		code, _, stderr := checkConfig(t, withAuth, args...)
		if code != 2 || !strings.Contains(stderr, "scriptsync config:") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
	}
}

// TestConfigCheckAgreesWithTheServices runs the ingest and the worker themselves on each
// configuration: one refuses it as a configuration error exactly when config check, for
// that process, does. A configuration they accept gets as far as connecting to NATS, which
// fails at once on the cancelled context and the closed port.
func TestConfigCheckAgreesWithTheServices(t *testing.T) {
	t.Parallel()
	services := map[string]func(context.Context, *env, []string) error{
		"ingest": runIngest, "worker": runWorker,
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, content := range []string{withAuth, "log: {level: debug}\n",
		withAuth + "stream: {partitions: 0}\n"} {
		path := filepath.Join(t.TempDir(), "scriptsync.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, genesysSecretSet := range []bool{true, false} {
			environ := []string{"SCRIPTSYNC_NATS_URL=nats://127.0.0.1:1",
				"SCRIPTSYNC_NATS_CONNECT_TIMEOUT=100ms", "SCRIPTSYNC_GENESYS_CLIENT_ID=id"}
			if genesysSecretSet {
				environ = append(environ, "SCRIPTSYNC_GENESYS_CLIENT_SECRET="+genesysSecret)
			}
			for name, service := range services {
				var out bytes.Buffer
				e := &env{environ: environ, stdout: &out, stderr: &out}
				refused := errors.As(service(ctx, e, []string{"--config", path}),
					new(usageError))
				checkErr := runConfig(ctx, e, []string{"check", "--config", path, "--for",
					name})
				if checked := errors.As(checkErr, new(usageError)); checked != refused {
					t.Errorf("%s, genesys secret %v, config %q: the service refuses it: %v; "+
						"config check: %v", name, genesysSecretSet, content, refused, checkErr)
				}
			}
		}
	}
}
