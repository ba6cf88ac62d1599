package config

import "strings"

// Admin sets the operator API (dead letters: list, show, replay, delete) that the ingest,
// worker and dev processes serve under /admin/v1/ on the admin listener, metrics.addr.
type Admin struct {
	// Enabled serves the API, provided token is set too: without a token the API is off
	// whatever this says, never open. Set it to false to keep the API off on a process
	// that shares its configuration with one that serves it. Default true.
	Enabled bool `yaml:"enabled"`
	// Token is the bearer token every request must carry in its Authorization header
	// (Authorization: Bearer <token>); it is never accepted in a URL. At least 16
	// characters, no spaces. Empty turns the API off. Read it from a file with
	// SCRIPTSYNC_ADMIN_TOKEN_FILE. Default none.
	Token string `yaml:"token" secret:"true"`
	// ReplayRate caps how many events a replay request publishes per second, so a large
	// replay leaves room for live events. Each event costs the worker two Genesys calls;
	// one worker's default budget (genesys.rate_per_minute 300) is 2.5 events per second.
	// Default 5.
	ReplayRate float64 `yaml:"replay_rate"`
}

// minAdminToken is the shortest token accepted: long enough that guessing is hopeless
// when it is random.
const minAdminToken = 16

// Serves reports whether the admin API is served: enabled and given a token.
func (a Admin) Serves() bool {
	return a.Enabled && a.Token != ""
}

func (a Admin) validate() []error {
	var errs []error
	if a.Token != "" && (len(a.Token) < minAdminToken || strings.ContainsAny(a.Token, " \t\r\n")) {
		errs = append(errs, invalid("admin.token", "must be at least %d characters without "+
			"spaces", minAdminToken))
	}
	if a.ReplayRate <= 0 || a.ReplayRate > 10000 {
		errs = append(errs, invalid("admin.replay_rate", "%g is outside (0, 10000] events per "+
			"second", a.ReplayRate))
	}
	return errs
}
