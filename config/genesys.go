package config

import (
	"net/url"
	"time"
)

// Genesys sets the Genesys Cloud API client.
type Genesys struct {
	// Region is the org's region, such as us-east-1 or eu-central-1; it picks the login
	// and API hosts. Ignored when both LoginURL and APIURL are set. Default us-east-1.
	Region string `yaml:"region"`
	// LoginURL and APIURL override the region's hosts, for the simulator or a proxy.
	LoginURL string `yaml:"login_url"`
	APIURL   string `yaml:"api_url"`
	// ClientID and ClientSecret are the OAuth client-credentials grant. Required.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret" secret:"true"`
	// Timeout bounds each API call. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// RatePerMinute keeps this process under its token's limit (Genesys allows 300 calls
	// a minute per client-credentials token unless raised). Default 300.
	RatePerMinute int `yaml:"rate_per_minute"`
	// Burst is how many calls may go at once before the rate applies. Default 10.
	Burst int `yaml:"burst"`
	// PerMediaPath writes through /conversations/{calls,chats,...}/{id}/participants/...
	// instead of the generic path. Default false.
	PerMediaPath bool `yaml:"per_media_path"`
	// MaxValueLength is the longest attribute value sent; longer is refused before the
	// call. Default 256.
	MaxValueLength int `yaml:"max_value_length"`
	// MaxAttributes is the most attributes one write may carry. Default 50.
	MaxAttributes int `yaml:"max_attributes"`
	// SharedLimit makes every process with the same key share RatePerMinute, Burst and
	// the pauses after a 429, through Redis.
	SharedLimit GenesysSharedLimit `yaml:"shared_limit"`
}

// GenesysSharedLimit keeps a fleet of workers under one OAuth client's limit together.
type GenesysSharedLimit struct {
	// RedisURL turns the shared limit on: redis://[user:password@]host:port[/db], or
	// rediss:// for TLS. A single server; Sentinel and Cluster are not taken here. With it
	// set, rate_per_minute and burst are the whole fleet's. Default none: each process
	// keeps its own budget.
	RedisURL string `yaml:"redis_url"`
	// Key names the budget in Redis; processes with the same key share it. Give each
	// OAuth client its own key. Default scriptsync:genesys-limit.
	Key string `yaml:"key"`
	// Timeout bounds each Redis command; past it, or with Redis down, the call is paced
	// by this process's own budget instead. Default 200ms.
	Timeout time.Duration `yaml:"timeout"`
}

// Enabled reports whether processes share one budget.
func (s GenesysSharedLimit) Enabled() bool { return s.RedisURL != "" }

func (s GenesysSharedLimit) validate() []error {
	if !s.Enabled() {
		return nil
	}
	var errs []error
	if p, err := url.Parse(s.RedisURL); err != nil ||
		(p.Scheme != "redis" && p.Scheme != "rediss") || p.Host == "" {
		errs = append(errs, invalid("genesys.shared_limit.redis_url",
			"must be a redis:// or rediss:// URL with a host"))
	}
	if s.Key == "" {
		errs = append(errs, invalid("genesys.shared_limit.key", "must not be empty"))
	}
	if s.Timeout <= 0 {
		errs = append(errs, invalid("genesys.shared_limit.timeout", "must be positive"))
	}
	return errs
}

func (g Genesys) validate() []error {
	var errs []error
	if g.LoginURL == "" || g.APIURL == "" {
		if g.LoginURL != "" || g.APIURL != "" {
			errs = append(errs, invalid("genesys.login_url",
				"set login_url and api_url together, or neither"))
		} else if !knownRegion(g.Region) {
			errs = append(errs, invalid("genesys.region", "unknown region %q", g.Region))
		}
	}
	for name, u := range map[string]string{"login_url": g.LoginURL, "api_url": g.APIURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") ||
			p.Host == "" {
			errs = append(errs, invalid("genesys."+name, "must be an http(s) URL"))
		}
	}
	if g.Timeout <= 0 {
		errs = append(errs, invalid("genesys.timeout", "must be positive"))
	}
	if g.RatePerMinute < 1 {
		errs = append(errs, invalid("genesys.rate_per_minute", "must be at least 1"))
	}
	if g.Burst < 1 {
		errs = append(errs, invalid("genesys.burst", "must be at least 1"))
	}
	if g.MaxValueLength < 1 {
		errs = append(errs, invalid("genesys.max_value_length", "must be at least 1"))
	}
	if g.MaxAttributes < 1 {
		errs = append(errs, invalid("genesys.max_attributes", "must be at least 1"))
	}
	errs = append(errs, g.SharedLimit.validate()...)
	return errs
}

// RequireCredentials reports a missing client id or secret. Only processes that call
// Genesys need them, so it is not part of Validate.
func (g Genesys) RequireCredentials() error {
	if g.ClientID == "" || g.ClientSecret == "" {
		return invalid("genesys.client_id", "genesys.client_id and genesys.client_secret are "+
			"required to call Genesys Cloud (set SCRIPTSYNC_GENESYS_CLIENT_SECRET or "+
			"SCRIPTSYNC_GENESYS_CLIENT_SECRET_FILE)")
	}
	return nil
}

// Regions maps each Genesys Cloud region to its domain; logins go to login.<domain> and
// API calls to api.<domain>. The genesys package keeps its own copy, because it imports
// nothing of scriptsync's; a test in that package fails when the two differ, so change
// both together.
var Regions = map[string]string{
	"us-east-1":      "mypurecloud.com",
	"us-east-2":      "use2.us-gov-pure.cloud",
	"us-west-2":      "usw2.pure.cloud",
	"ca-central-1":   "cac1.pure.cloud",
	"sa-east-1":      "sae1.pure.cloud",
	"mx-central-1":   "mxc1.pure.cloud",
	"eu-west-1":      "mypurecloud.ie",
	"eu-west-2":      "euw2.pure.cloud",
	"eu-central-1":   "mypurecloud.de",
	"eu-central-2":   "euc2.pure.cloud",
	"me-central-1":   "mec1.pure.cloud",
	"ap-south-1":     "aps1.pure.cloud",
	"ap-southeast-1": "apse1.pure.cloud",
	"ap-southeast-2": "mypurecloud.com.au",
	"ap-northeast-1": "mypurecloud.jp",
	"ap-northeast-2": "apne2.pure.cloud",
	"ap-northeast-3": "apne3.pure.cloud",
}

func knownRegion(r string) bool {
	_, ok := Regions[r]
	return ok
}
