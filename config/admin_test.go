package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptsync/scriptsync/config"
)

func TestAdminIsOffWithoutToken(t *testing.T) {
	cfg, err := config.Load(write(t, valid), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Serves() || !cfg.Admin.Enabled || cfg.Admin.ReplayRate != 5 {
		t.Fatalf("admin defaults: %+v", cfg.Admin)
	}
}

func TestAdminTokenFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("0123456789abcdef-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(write(t, valid), []string{"SCRIPTSYNC_ADMIN_TOKEN_FILE=" + path,
		"SCRIPTSYNC_ADMIN_REPLAY_RATE=20"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Admin.Serves() || cfg.Admin.Token != "0123456789abcdef-token" ||
		cfg.Admin.ReplayRate != 20 {
		t.Fatalf("admin: enabled %v, rate %g", cfg.Admin.Enabled, cfg.Admin.ReplayRate)
	}
	masked, err := cfg.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(masked), "abcdef") {
		t.Error("the admin token is printed")
	}
	cfg, err = config.Load(write(t, valid+"admin: {enabled: false}\n"),
		[]string{"SCRIPTSYNC_ADMIN_TOKEN_FILE=" + path})
	if err != nil || cfg.Admin.Serves() {
		t.Fatalf("disabled with a token: serves %v, %v", cfg.Admin.Serves(), err)
	}
}

func TestAdminRejects(t *testing.T) {
	for _, tc := range []struct{ yaml, setting string }{
		{"admin: {token: short}", "admin.token"},
		{"admin: {token: \"with spaces in the middle\"}", "admin.token"},
		{"admin: {replay_rate: 0}", "admin.replay_rate"},
		{"admin: {replay_rate: -3}", "admin.replay_rate"},
	} {
		_, err := config.Load(write(t, valid+tc.yaml+"\n"), nil)
		if err == nil || !strings.Contains(err.Error(), tc.setting) {
			t.Errorf("%s: %v; want an error naming %s", tc.yaml, err, tc.setting)
		}
	}
}
