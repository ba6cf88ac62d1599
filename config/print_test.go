package config_test

import (
	"strings"
	"testing"

	"github.com/scriptsync/scriptsync/config"
)

// TestMaskedYAMLHidesCredentialsInURLs: a password or token written into a URL is as
// secret as one in a secret setting, and the rest of the URL stays readable.
func TestMaskedYAMLHidesCredentialsInURLs(t *testing.T) {
	cfg, err := config.Load(write(t, `
lookup:
  source: http
  http:
    url: "https://svc:hunter3@lookup.example/v1/a@b/{{key}}?key={{key}}&access_token=tok-abc#f"
ingest:
  auth:
    methods: [hmac]
    hmac: {secrets: ["a-long-enough-secret-0123"]}
    jwt: {jwks_url: "https://idp.example/jwks?password=pw-jwks&x=1"}
`), []string{
		"SCRIPTSYNC_NATS_URL=nats://admin:hunter2@n1:4222, nats://tok-lone@n2:4222," +
			"tls://n3:4222",
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	printed := string(out)
	for _, secret := range []string{"hunter2", "hunter3", "tok-lone", "tok-abc", "pw-jwks"} {
		if strings.Contains(printed, secret) {
			t.Errorf("printed configuration shows %q:\n%s", secret, printed)
		}
	}
	for _, kept := range []string{
		"nats://admin:********@n1:4222, nats://********@n2:4222,tls://n3:4222",
		"https://svc:********@lookup.example/v1/a@b/{{key}}?key={{key}}&access_token=********#f",
		"https://idp.example/jwks?password=********&x=1",
	} {
		if !strings.Contains(printed, kept) {
			t.Errorf("printed configuration lacks %q:\n%s", kept, printed)
		}
	}
	// Masking is for printing only: the loaded configuration keeps the real values.
	if !strings.Contains(cfg.NATS.URL, "hunter2") {
		t.Errorf("nats.url changed by printing: %q", cfg.NATS.URL)
	}
}
