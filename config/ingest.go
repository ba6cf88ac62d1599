package config

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Ingest sets the webhook receiver.
type Ingest struct {
	// Addr is where POST /v1/events, /healthz and /readyz are served. Default :8080.
	Addr string `yaml:"addr"`
	// MaxBodyBytes is the largest request body accepted; larger ones get 413.
	// Default 262144 (256 KiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxInFlight is how many requests may wait for JetStream at once; more get 429.
	// Default 2048.
	MaxInFlight int `yaml:"max_in_flight"`
	// PublishTimeout bounds the wait for JetStream to confirm an event; past it the
	// sender gets 503 and retries. Default 5s.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout bound slow clients.
	// Defaults 5s, 15s, 20s and 120s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// ShutdownGrace is how long in-flight requests may take to finish on shutdown.
	// Default 15s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// EventTypes lists the event types to store (user.start, customer.start, a flat
	// event's eventType, ...); others are answered 202 with "ignored": true. "*" stores
	// every type. Default ["*"].
	EventTypes []string `yaml:"event_types"`
	// Auth sets how senders prove who they are.
	Auth Auth `yaml:"auth"`
}

// Auth lists the accepted authentication methods. A request is accepted when any one of
// the configured methods accepts it.
type Auth struct {
	// Methods names the methods in use: hmac, standard_webhooks, api_key, jwt, or none
	// alone to accept unauthenticated requests (a warning is logged at start-up).
	// Required: there is no default.
	Methods []string `yaml:"methods"`
	// HMAC checks an HMAC-SHA256 of the raw body sent in a header.
	HMAC HMACAuth `yaml:"hmac"`
	// StandardWebhooks checks Standard Webhooks signatures.
	StandardWebhooks StandardWebhooksAuth `yaml:"standard_webhooks"`
	// APIKey checks a static key or bearer token in a header.
	APIKey APIKeyAuth `yaml:"api_key"`
	// JWT checks a bearer JSON Web Token.
	JWT JWTAuth `yaml:"jwt"`
}

// HMACAuth is the X-Hub-Signature-256 style: header value prefix + encoded HMAC-SHA256.
type HMACAuth struct {
	// Header carrying the signature. Default X-Hub-Signature-256.
	Header string `yaml:"header"`
	// Prefix before the encoded signature. Default "sha256=".
	Prefix string `yaml:"prefix"`
	// Encoding of the signature: base64 or hex. Default base64.
	Encoding string `yaml:"encoding"`
	// Secrets accepted; list the new one beside the old one while rotating.
	Secrets []string `yaml:"secrets" secret:"true"`
}

// StandardWebhooksAuth follows the Standard Webhooks specification.
type StandardWebhooksAuth struct {
	// Secrets accepted, each "whsec_" followed by the base64 key.
	Secrets []string `yaml:"secrets" secret:"true"`
	// Tolerance is how far the webhook-timestamp may be from now. Default 5m.
	Tolerance time.Duration `yaml:"tolerance"`
}

// APIKeyAuth accepts a static key in a header, as Amazon EventBridge API destinations send.
type APIKeyAuth struct {
	// Header carrying the key. Default Authorization.
	Header string `yaml:"header"`
	// Scheme expected before the key, such as Bearer; empty for the bare key.
	// Default Bearer.
	Scheme string `yaml:"scheme"`
	// Keys accepted.
	Keys []string `yaml:"keys" secret:"true"`
}

// JWTAuth accepts an Authorization: Bearer JSON Web Token.
type JWTAuth struct {
	// HS256Secrets verify HS256 tokens.
	HS256Secrets []string `yaml:"hs256_secrets" secret:"true"`
	// JWKSURL is fetched for RS256 and ES256 keys, matched by kid.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSRefresh is how often the key set is fetched again. Default 10m.
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
	// Issuer the iss claim must equal. Required with jwt.
	Issuer string `yaml:"issuer"`
	// Audience the aud claim must contain. Required with jwt.
	Audience string `yaml:"audience"`
	// Leeway allowed on exp, nbf and iat for clock skew. Default 30s.
	Leeway time.Duration `yaml:"leeway"`
}

// Authentication method names.
const (
	AuthNone             = "none"
	AuthHMAC             = "hmac"
	AuthStandardWebhooks = "standard_webhooks"
	AuthAPIKey           = "api_key"
	AuthJWT              = "jwt"
)

func (in Ingest) validate() []error {
	var errs []error
	if err := checkAddr(in.Addr); err != nil {
		errs = append(errs, invalid("ingest.addr", "%v", err))
	}
	if in.MaxBodyBytes < 1024 || in.MaxBodyBytes > 64<<20 {
		errs = append(errs, invalid("ingest.max_body_bytes", "%d is outside 1024..67108864",
			in.MaxBodyBytes))
	}
	if in.MaxInFlight < 1 {
		errs = append(errs, invalid("ingest.max_in_flight", "must be at least 1"))
	}
	for name, d := range map[string]time.Duration{
		"publish_timeout": in.PublishTimeout, "read_header_timeout": in.ReadHeaderTimeout,
		"read_timeout": in.ReadTimeout, "write_timeout": in.WriteTimeout,
		"idle_timeout": in.IdleTimeout, "shutdown_grace": in.ShutdownGrace,
	} {
		if d <= 0 {
			errs = append(errs, invalid("ingest."+name, "must be positive"))
		}
	}
	if in.WriteTimeout <= in.PublishTimeout {
		errs = append(errs, invalid("ingest.write_timeout",
			"must be longer than ingest.publish_timeout, or a slow publish cannot be answered"))
	}
	if len(in.EventTypes) == 0 {
		errs = append(errs, invalid("ingest.event_types", `list at least one type, or "*"`))
	}
	return append(errs, in.Auth.validate()...)
}

// RequireAuth reports an ingest without an authentication method. Only processes that
// receive webhooks need one, so it is not part of Validate: a worker's configuration need
// not say how senders authenticate.
func (in Ingest) RequireAuth() error {
	if len(in.Auth.Methods) == 0 {
		return invalid("ingest.auth.methods",
			`required: list hmac, standard_webhooks, api_key or jwt, or "none" to accept `+
				`unauthenticated requests`)
	}
	return nil
}

func (a Auth) validate() []error {
	if slices.Contains(a.Methods, AuthNone) {
		if len(a.Methods) > 1 {
			return []error{invalid("ingest.auth.methods", `"none" cannot be combined with others`)}
		}
		return nil
	}
	var errs []error
	for _, m := range a.Methods {
		switch m {
		case AuthHMAC:
			errs = append(errs, a.HMAC.validate()...)
		case AuthStandardWebhooks:
			errs = append(errs, a.StandardWebhooks.validate()...)
		case AuthAPIKey:
			errs = append(errs, a.APIKey.validate()...)
		case AuthJWT:
			errs = append(errs, a.JWT.validate()...)
		default:
			errs = append(errs, invalid("ingest.auth.methods", "unknown method %q", m))
		}
	}
	return errs
}

func (h HMACAuth) validate() []error {
	var errs []error
	if h.Header == "" {
		errs = append(errs, invalid("ingest.auth.hmac.header", "required"))
	}
	if h.Encoding != "base64" && h.Encoding != "hex" {
		errs = append(errs, invalid("ingest.auth.hmac.encoding", "%q is not base64 or hex",
			h.Encoding))
	}
	return append(errs, checkSecrets("ingest.auth.hmac.secrets", h.Secrets, 16)...)
}

func (s StandardWebhooksAuth) validate() []error {
	var errs []error
	if len(s.Secrets) == 0 {
		errs = append(errs, invalid("ingest.auth.standard_webhooks.secrets", "at least one required"))
	}
	for i, sec := range s.Secrets {
		key, ok := strings.CutPrefix(sec, "whsec_")
		raw, err := base64.StdEncoding.DecodeString(key)
		if !ok || err != nil || len(raw) < 16 {
			errs = append(errs, invalid("ingest.auth.standard_webhooks.secrets",
				"entry %d must be whsec_ followed by a base64 key of at least 16 bytes", i+1))
		}
	}
	if s.Tolerance <= 0 || s.Tolerance > time.Hour {
		errs = append(errs, invalid("ingest.auth.standard_webhooks.tolerance",
			"must be positive and at most 1h"))
	}
	return errs
}

func (k APIKeyAuth) validate() []error {
	var errs []error
	if k.Header == "" {
		errs = append(errs, invalid("ingest.auth.api_key.header", "required"))
	}
	return append(errs, checkSecrets("ingest.auth.api_key.keys", k.Keys, 16)...)
}

func (j JWTAuth) validate() []error {
	var errs []error
	if len(j.HS256Secrets) == 0 && j.JWKSURL == "" {
		errs = append(errs, invalid("ingest.auth.jwt",
			"set hs256_secrets, jwks_url, or both"))
	}
	errs = append(errs, checkSecrets("ingest.auth.jwt.hs256_secrets", j.HS256Secrets, 32)...)
	if j.JWKSURL != "" {
		u, err := url.Parse(j.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, invalid("ingest.auth.jwt.jwks_url", "must be an http(s) URL"))
		}
		if j.JWKSRefresh < time.Minute {
			errs = append(errs, invalid("ingest.auth.jwt.jwks_refresh", "must be at least 1m"))
		}
	}
	if j.Issuer == "" {
		errs = append(errs, invalid("ingest.auth.jwt.issuer", "required"))
	}
	if j.Audience == "" {
		errs = append(errs, invalid("ingest.auth.jwt.audience", "required"))
	}
	if j.Leeway < 0 || j.Leeway > 5*time.Minute {
		errs = append(errs, invalid("ingest.auth.jwt.leeway", "must be between 0 and 5m"))
	}
	return errs
}

// checkSecrets refuses empty lists and short secrets: a short shared secret can be guessed.
func checkSecrets(setting string, secrets []string, minLen int) []error {
	if len(secrets) == 0 {
		return []error{invalid(setting, "at least one required")}
	}
	var errs []error
	for i, s := range secrets {
		if len(s) < minLen {
			errs = append(errs, invalid(setting, "entry %d is shorter than %d characters",
				i+1, minLen))
		}
	}
	return errs
}
