package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scriptsync/scriptsync/config"
)

// ErrUnauthorized marks a request no configured method accepted.
var ErrUnauthorized = errors.New("unauthorized")

// verifier checks one authentication method against a request and its raw body.
type verifier interface {
	name() string
	// present reports whether the request carries this method's credentials at all, so
	// the error can say what was wrong instead of listing every method.
	present(r *http.Request) bool
	verify(r *http.Request, body []byte) error
}

// Authenticator accepts a request when any configured method accepts it.
type Authenticator struct {
	verifiers []verifier
}

// NewAuthenticator builds the configured methods. With methods [none] it accepts every
// request; the caller warns about that at start-up. now is the clock for timestamp and
// expiry checks; nil means time.Now.
func NewAuthenticator(cfg config.Auth, now func() time.Time, hc *http.Client) (
	*Authenticator, error) {
	if now == nil {
		now = time.Now
	}
	a := &Authenticator{}
	for _, m := range cfg.Methods {
		switch m {
		case config.AuthNone:
			return &Authenticator{}, nil
		case config.AuthHMAC:
			a.verifiers = append(a.verifiers, newHMACVerifier(cfg.HMAC))
		case config.AuthStandardWebhooks:
			v, err := newStandardWebhooks(cfg.StandardWebhooks, now)
			if err != nil {
				return nil, err
			}
			a.verifiers = append(a.verifiers, v)
		case config.AuthAPIKey:
			a.verifiers = append(a.verifiers, newAPIKeyVerifier(cfg.APIKey,
				slices.Contains(cfg.Methods, config.AuthJWT)))
		case config.AuthJWT:
			a.verifiers = append(a.verifiers, newJWTVerifier(cfg.JWT, now, hc))
		default:
			return nil, fmt.Errorf("ingest.auth.methods: unknown method %q", m)
		}
	}
	return a, nil
}

// Open reports whether every request is accepted without credentials.
func (a *Authenticator) Open() bool {
	return len(a.verifiers) == 0
}

// Verify returns nil when one method accepts the request, else an error wrapping
// ErrUnauthorized that says why, naming methods but never echoing credentials.
func (a *Authenticator) Verify(r *http.Request, body []byte) error {
	if a.Open() {
		return nil
	}
	var reasons []string
	for _, v := range a.verifiers {
		if !v.present(r) {
			continue
		}
		err := v.verify(r, body)
		if err == nil {
			return nil
		}
		reasons = append(reasons, v.name()+": "+err.Error())
	}
	if len(reasons) == 0 {
		names := make([]string, len(a.verifiers))
		for i, v := range a.verifiers {
			names[i] = v.name()
		}
		return fmt.Errorf("%w: no credentials; expected one of: %s", ErrUnauthorized,
			strings.Join(names, ", "))
	}
	return fmt.Errorf("%w: %s", ErrUnauthorized, strings.Join(reasons, "; "))
}

// hmacVerifier checks header = prefix + encode(HMAC-SHA256(secret, body)).
type hmacVerifier struct {
	header, prefix string
	hex            bool
	secrets        [][]byte
}

func newHMACVerifier(c config.HMACAuth) *hmacVerifier {
	v := &hmacVerifier{header: c.Header, prefix: c.Prefix, hex: c.Encoding == "hex"}
	for _, s := range c.Secrets {
		v.secrets = append(v.secrets, []byte(s))
	}
	return v
}

func (v *hmacVerifier) name() string { return config.AuthHMAC }

func (v *hmacVerifier) present(r *http.Request) bool { return r.Header.Get(v.header) != "" }

func (v *hmacVerifier) verify(r *http.Request, body []byte) error {
	val, ok := strings.CutPrefix(r.Header.Get(v.header), v.prefix)
	if !ok {
		return fmt.Errorf("%s must start with %q", v.header, v.prefix)
	}
	var got []byte
	var err error
	if v.hex {
		got, err = hex.DecodeString(val)
	} else {
		got, err = base64.StdEncoding.DecodeString(val)
	}
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%s is not an encoded HMAC-SHA256", v.header)
	}
	for _, secret := range v.secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), got) {
			return nil
		}
	}
	return errors.New("signature does not match")
}

// standardWebhooks follows the Standard Webhooks specification: the signature covers
// "<webhook-id>.<webhook-timestamp>.<body>".
type standardWebhooks struct {
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
}

func newStandardWebhooks(c config.StandardWebhooksAuth, now func() time.Time) (
	*standardWebhooks, error) {
	v := &standardWebhooks{tolerance: c.Tolerance, now: now}
	for i, s := range c.Secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			return nil, fmt.Errorf("ingest.auth.standard_webhooks.secrets: entry %d: %w", i+1, err)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

func (v *standardWebhooks) name() string { return config.AuthStandardWebhooks }

func (v *standardWebhooks) present(r *http.Request) bool {
	return r.Header.Get("webhook-signature") != ""
}

func (v *standardWebhooks) verify(r *http.Request, body []byte) error {
	id := r.Header.Get("webhook-id")
	ts := r.Header.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return errors.New("webhook-id and webhook-timestamp are required")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not whole seconds")
	}
	skew := v.now().Sub(time.Unix(sec, 0))
	if skew > v.tolerance || skew < -v.tolerance {
		return fmt.Errorf("webhook-timestamp is outside the %s tolerance", v.tolerance)
	}
	signed := make([]byte, 0, len(id)+len(ts)+len(body)+2)
	signed = append(append(append(append(append(signed, id...), '.'), ts...), '.'), body...)
	for _, key := range v.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write(signed)
		want := mac.Sum(nil)
		// The header may carry several space-separated signatures during key rotation.
		for sig := range strings.FieldsSeq(r.Header.Get("webhook-signature")) {
			b64, ok := strings.CutPrefix(sig, "v1,")
			if !ok {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errors.New("no v1 signature matches")
}

// apiKeyVerifier compares a header against static keys in constant time.
type apiKeyVerifier struct {
	header, scheme string
	keys           [][]byte
	// deferJWT leaves token-shaped values to the jwt method, which is configured and
	// reads the same header.
	deferJWT bool
}

// newAPIKeyVerifier builds the api_key method; jwtConfigured says the jwt method is
// configured too.
func newAPIKeyVerifier(c config.APIKeyAuth, jwtConfigured bool) *apiKeyVerifier {
	v := &apiKeyVerifier{header: c.Header, scheme: c.Scheme,
		deferJWT: jwtConfigured && http.CanonicalHeaderKey(c.Header) == "Authorization"}
	for _, k := range c.Keys {
		v.keys = append(v.keys, []byte(k))
	}
	return v
}

func (v *apiKeyVerifier) name() string { return config.AuthAPIKey }

func (v *apiKeyVerifier) present(r *http.Request) bool {
	val := r.Header.Get(v.header)
	if val == "" {
		return false
	}
	if !v.deferJWT {
		// No jwt method would look at it: a key with two dots is still a key.
		return true
	}
	// A JWT travels in the same Authorization header; leave it to the jwt method, so a
	// refused token is reported as a token, not also as a wrong key.
	_, tok, _ := strings.Cut(val, " ")
	return strings.Count(tok, ".") != 2
}

func (v *apiKeyVerifier) verify(r *http.Request, _ []byte) error {
	val := r.Header.Get(v.header)
	if v.scheme != "" {
		scheme, rest, ok := strings.Cut(val, " ")
		if !ok || !strings.EqualFold(scheme, v.scheme) {
			return fmt.Errorf("%s must be %q followed by the key", v.header, v.scheme)
		}
		val = strings.TrimSpace(rest)
	}
	match := 0
	for _, k := range v.keys {
		// Compare against every key so the time taken does not say which one matched.
		match |= subtle.ConstantTimeCompare([]byte(val), k)
	}
	if match == 1 {
		return nil
	}
	return errors.New("key not accepted")
}
