package genesys

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config sets a Client. Zero numeric fields take the fallbacks named in their comments,
// which match scriptsync's configuration defaults.
type Config struct {
	// Region picks the login and API hosts from the region table. Ignored when LoginURL
	// and APIURL are both set.
	Region string
	// LoginURL and APIURL override the region's hosts, for the simulator or a proxy, such
	// as http://127.0.0.1:8090. Set both or neither.
	LoginURL, APIURL string
	// ClientID and ClientSecret are the OAuth client-credentials grant.
	ClientID, ClientSecret string
	// Timeout bounds each HTTP exchange, the token request included. Zero means 10s.
	Timeout time.Duration
	// RatePerMinute is the pace of the built-in limiter, in calls a minute. Zero means 300.
	// Unused when Options.Limiter is set.
	RatePerMinute int
	// Burst is how many calls the built-in limiter lets go at once. Zero means 10.
	Burst int
	// PerMediaPath writes through the per-media path (/conversations/calls/..., chats, ...)
	// chosen from the media type given to PatchParticipantAttributes.
	PerMediaPath bool
	// MaxValueLength is the longest attribute value accepted, in characters. Zero means 256.
	MaxValueLength int
	// MaxAttributes is the most attributes one write may carry. Zero means 50.
	MaxAttributes int
	// MaxRateLimitPause caps how long a 429's Retry-After pauses every call of the
	// process. Zero means 3m.
	MaxRateLimitPause time.Duration
}

// Fallbacks for zero Config fields. They repeat scriptsync's configuration defaults so that
// a Client built in a test without the config package behaves like the service.
const (
	fallbackTimeout        = 10 * time.Second
	fallbackRatePerMinute  = 300
	fallbackBurst          = 10
	fallbackMaxValueLength = 256
	fallbackMaxAttributes  = 50
)

// Options carries the collaborators of a Client. Every field may be left zero.
type Options struct {
	// Logger receives debug lines for failed calls and warnings for rate limiting.
	// Default: no logging.
	Logger *zap.Logger
	// Registerer receives the client's metrics. Default: metrics are kept but not exported.
	Registerer prometheus.Registerer
	// Namespace prefixes every metric name, such as scriptsync.
	Namespace string
	// HTTPClient sends every request, the token requests included. Its Timeout should be
	// zero or longer than Config.Timeout; the client bounds each call itself.
	// Default: a client with connection reuse sized for many concurrent calls.
	HTTPClient *http.Client
	// Limiter paces every API call. Default: a process-local limiter built from
	// Config.RatePerMinute and Config.Burst. Set it to share one budget between processes.
	Limiter Limiter
}

// regions maps each Genesys Cloud region to its domain: logins go to login.<domain>, API
// calls to api.<domain>. The config package keeps the same table to validate the setting
// at start-up; this package cannot import config (it imports nothing of scriptsync's), so
// the table is kept twice and regions_test.go fails when the two differ.
var regions = map[string]string{
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

// Regions returns a copy of the region table: region name to domain.
func Regions() map[string]string {
	return maps.Clone(regions)
}

// withFallbacks returns cfg with zero fields replaced and negative ones refused.
func (cfg Config) withFallbacks() (Config, error) {
	var errs []error
	for name, v := range map[string]int64{
		"Timeout": int64(cfg.Timeout), "RatePerMinute": int64(cfg.RatePerMinute),
		"Burst": int64(cfg.Burst), "MaxValueLength": int64(cfg.MaxValueLength),
		"MaxAttributes": int64(cfg.MaxAttributes), "MaxRateLimitPause": int64(cfg.MaxRateLimitPause),
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("genesys config %s: must not be negative", name))
		}
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		errs = append(errs, errors.New("genesys config ClientID, ClientSecret: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	cfg.Timeout = orDefault(cfg.Timeout, fallbackTimeout)
	cfg.RatePerMinute = orDefault(cfg.RatePerMinute, fallbackRatePerMinute)
	cfg.Burst = orDefault(cfg.Burst, fallbackBurst)
	cfg.MaxValueLength = orDefault(cfg.MaxValueLength, fallbackMaxValueLength)
	cfg.MaxAttributes = orDefault(cfg.MaxAttributes, fallbackMaxAttributes)
	cfg.MaxRateLimitPause = orDefault(cfg.MaxRateLimitPause, maxPause)
	return cfg, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// endpoints resolves the token URL and the API base URL (without a trailing slash).
func (cfg Config) endpoints() (tokenURL, apiBase string, err error) {
	login, api := cfg.LoginURL, cfg.APIURL
	switch {
	case login != "" && api != "":
	case login != "" || api != "":
		return "", "", errors.New("genesys config: set LoginURL and APIURL together, or neither")
	default:
		domain, ok := regions[cfg.Region]
		if !ok {
			return "", "", fmt.Errorf("genesys config: unknown region %q", cfg.Region)
		}
		login, api = "https://login."+domain, "https://api."+domain
	}
	for name, raw := range map[string]string{"LoginURL": login, "APIURL": api} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", "", fmt.Errorf("genesys config %s: %q is not an http(s) URL", name, raw)
		}
	}
	return strings.TrimRight(login, "/") + "/oauth/token", strings.TrimRight(api, "/"), nil
}
