package genesys_test

// These tests compare this package with scriptsync's config package. Only the tests import
// config: the genesys package itself imports nothing of scriptsync's, so it keeps its own
// copy of the region table and of the defaults, and these tests keep the copies equal.

import (
	"maps"
	"strings"
	"testing"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/genesys"
)

func TestRegionTableMatchesConfig(t *testing.T) {
	t.Parallel()
	if got := genesys.Regions(); !maps.Equal(got, config.Regions) {
		t.Fatalf("region tables differ:\ngenesys %v\nconfig  %v", got, config.Regions)
	}
}

func TestFallbacksMatchConfigDefaults(t *testing.T) {
	t.Parallel()
	def := config.Default().Genesys
	c, err := genesys.New(genesys.Config{Region: def.Region, ClientID: "a",
		ClientSecret: "b"}, genesys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Config()
	if got.Timeout != def.Timeout || got.RatePerMinute != def.RatePerMinute ||
		got.Burst != def.Burst || got.MaxValueLength != def.MaxValueLength ||
		got.MaxAttributes != def.MaxAttributes || got.PerMediaPath != def.PerMediaPath {
		t.Fatalf("fallbacks %+v differ from config defaults %+v", got, def)
	}
	if got.ClientSecret != "" {
		t.Error("Config() returned the secret")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  genesys.Config
		want string
	}{
		{genesys.Config{Region: "mars-1", ClientID: "a", ClientSecret: "b"}, "unknown region"},
		{genesys.Config{LoginURL: "http://x", ClientID: "a", ClientSecret: "b"}, "together"},
		{genesys.Config{LoginURL: "ftp://x", APIURL: "http://x", ClientID: "a",
			ClientSecret: "b"}, "LoginURL"},
		{genesys.Config{Region: "us-east-1"}, "ClientID"},
		{genesys.Config{Region: "us-east-1", ClientID: "a", ClientSecret: "b", Burst: -1},
			"Burst"},
	} {
		if _, err := genesys.New(tc.cfg, genesys.Options{}); err == nil ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %q", tc.cfg, err, tc.want)
		}
	}
}
