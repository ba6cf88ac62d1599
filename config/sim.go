package config

import "time"

// Sim sets the built-in Genesys Cloud simulator (scriptsync sim, and scriptsync dev).
type Sim struct {
	// Addr is where the simulator listens. Its admin API has no authentication: keep it on
	// a loopback address. Default 127.0.0.1:8090.
	Addr string `yaml:"addr"`
	// ClientID and ClientSecret are the OAuth client credentials the simulator's token
	// endpoint accepts; set genesys.client_id and genesys.client_secret to the same. Both
	// empty accepts any credentials. Defaults scriptsync-sim and scriptsync-sim-secret.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret" secret:"true"`
	// TokenLifetime is how long an issued token is valid; short lifetimes exercise token
	// refresh. At least 1s. Default 24h, as Genesys.
	TokenLifetime time.Duration `yaml:"token_lifetime"`
	// ReadinessDelay is how long a new conversation answers "not found" before it becomes
	// visible, as real ones do for a moment after their first event. Applies to
	// auto-created conversations and to admin registrations that give no delay of their
	// own. Default 0s (visible at once).
	ReadinessDelay time.Duration `yaml:"readiness_delay"`
	// NotReadyStyle is the answer while a conversation or participant is not visible: 404
	// (code not.found) or 400 (a bare errors[] body saying "not found"). Default 404.
	NotReadyStyle string `yaml:"not_ready_style"`
	// WriteMode is what an attribute write does to the stored map: merge (set the sent
	// keys, keep the others) or replace (store exactly the sent map). Genesys does not
	// document which it does. Default merge.
	WriteMode string `yaml:"write_mode"`
	// AutoCreate creates a conversation, with one customer participant, on the first call
	// naming an unknown id; a participant id first seen in a write is added as an agent.
	// Without it, unknown ids answer 404 until registered through the admin API.
	// Default false.
	AutoCreate bool `yaml:"auto_create"`
	// SeedFile is a JSON list of conversations registered at start, each with an id and
	// participants (id, purpose, attributes). scriptsync dev seeds the conversations of
	// the sample events this way. Default none; dev: examples/sim-conversations.json.
	SeedFile string `yaml:"seed_file"`
	// Faults are injected into the conversation API from the start; the admin API changes
	// them at run time. No setting here faults the token endpoint: only the admin API can,
	// with token_error_rate.
	Faults SimFaults `yaml:"faults"`
}

// SimFaults are the simulator's injected failures. All default to off.
type SimFaults struct {
	// Latency delays every API answer. Default 0s.
	Latency time.Duration `yaml:"latency"`
	// Jitter adds a random extra delay between 0 and this. Default 0s.
	Jitter time.Duration `yaml:"jitter"`
	// ErrorRate is the share of API calls, 0 to 1, answered 500 or 503. Default 0.
	ErrorRate float64 `yaml:"error_rate"`
	// ErrorStatus, when set, is the one status of those answers: 500, 502, 503 or 504.
	// Default 0: 500 and 503 at even odds.
	ErrorStatus int `yaml:"error_status"`
	// RateLimitPerMinute answers 429, with Retry-After, to a token's calls beyond this
	// many in a one-minute window. 0 is no limit; Genesys's default is 300. Default 0.
	RateLimitPerMinute int `yaml:"rate_limit_per_minute"`
	// HangRate is the share of API calls, 0 to 1, never answered: they are held until the
	// client gives up. Default 0.
	HangRate float64 `yaml:"hang_rate"`
}

func (s Sim) validate() []error {
	var errs []error
	if err := checkAddr(s.Addr); err != nil {
		errs = append(errs, invalid("sim.addr", "%v", err))
	}
	if (s.ClientID == "") != (s.ClientSecret == "") {
		errs = append(errs, invalid("sim.client_id",
			"set sim.client_id and sim.client_secret together, or neither to accept any"))
	}
	if s.TokenLifetime < time.Second {
		errs = append(errs, invalid("sim.token_lifetime", "must be at least 1s"))
	}
	if s.ReadinessDelay < 0 {
		errs = append(errs, invalid("sim.readiness_delay", "must not be negative"))
	}
	if s.NotReadyStyle != "404" && s.NotReadyStyle != "400" {
		errs = append(errs, invalid("sim.not_ready_style", "%q is not 404 or 400",
			s.NotReadyStyle))
	}
	if s.WriteMode != "merge" && s.WriteMode != "replace" {
		errs = append(errs, invalid("sim.write_mode", "%q is not merge or replace", s.WriteMode))
	}
	return append(errs, s.Faults.validate()...)
}

func (f SimFaults) validate() []error {
	var errs []error
	for name, d := range map[string]time.Duration{"latency": f.Latency, "jitter": f.Jitter} {
		if d < 0 {
			errs = append(errs, invalid("sim.faults."+name, "must not be negative"))
		}
	}
	for name, share := range map[string]float64{"error_rate": f.ErrorRate,
		"hang_rate": f.HangRate} {
		if share < 0 || share > 1 {
			errs = append(errs, invalid("sim.faults."+name, "%v is outside 0..1", share))
		}
	}
	if f.RateLimitPerMinute < 0 {
		errs = append(errs, invalid("sim.faults.rate_limit_per_minute", "must not be negative"))
	}
	switch f.ErrorStatus {
	case 0, 500, 502, 503, 504:
	default:
		errs = append(errs, invalid("sim.faults.error_status", "%d is not 500, 502, 503 or 504",
			f.ErrorStatus))
	}
	return errs
}
