package ingest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/ingest"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// Values from fixtures/signatures.md, computed with openssl, not with this code.
const (
	hubSecret = "scriptsync-test-secret-0123456789"
	swSecret  = "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieXQ="
	swID      = "msg_2Lh9KsWaBUp8pVb1Tz3x"
	swTS      = "1796313601"
	swSig     = "v1,4PEfo5UXqaJ12yCUYeq5R8v5/bGuMFV2bEOpsLbAmWU="
	apiKey    = "eventbridge-api-key-0123456789"
	hsSecret  = "jwt-hs256-secret-0123456789abcdefghij"
)

var hubSignatures = map[string]string{
	"events/notification-user-start.json":    "sha256=ZpRkjbJhz7oOmqJRXV2gchDZR5pXyOKx4yNue2cDCLY=",
	"events/eventbridge-customer-start.json": "sha256=po6BsTyO0Uj5GzhfLzkzmx8kXdvFgPrDFhVw7p+9dQs=",
	"events/custom-script-step-entered.json": "sha256=mRQHbiLRuk6qWvM0f57aP8WVaDpszQ9F0KPgGC22q5U=",
}

type keys struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	jwks *httptest.Server
}

func newKeys(t *testing.T) *keys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &keys{rsa: rk, ec: ek}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	set := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "use": "sig", "n": b64(rk.N.Bytes()),
			"e": b64(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": b64(ek.X.FillBytes(make([]byte, 32))),
			"y": b64(ek.Y.FillBytes(make([]byte, 32)))},
	}}
	k.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(k.jwks.Close)
	return k
}

func allMethods(k *keys) func(*config.Config) {
	return func(c *config.Config) {
		a := &c.Ingest.Auth
		a.Methods = []string{config.AuthHMAC, config.AuthStandardWebhooks, config.AuthAPIKey,
			config.AuthJWT}
		a.HMAC.Secrets = []string{"an-older-secret-being-rotated-out", hubSecret}
		a.StandardWebhooks.Secrets = []string{swSecret}
		a.APIKey.Keys = []string{apiKey}
		a.JWT.HS256Secrets = []string{hsSecret}
		a.JWT.JWKSURL = k.jwks.URL
		a.JWT.Issuer = "https://issuer.example"
		a.JWT.Audience = "scriptsync"
	}
}

func (h *harness) token(t *testing.T, method jwt.SigningMethod, key any, kid string,
	edit func(jwt.MapClaims)) string {
	t.Helper()
	claims := jwt.MapClaims{
		"iss": "https://issuer.example", "aud": "scriptsync",
		"iat": h.now.Add(-time.Minute).Unix(), "exp": h.now.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(claims)
	}
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthenticationAccepts(t *testing.T) {
	k := newKeys(t)
	h := setup(t, allMethods(k))
	// The fixture's webhook-timestamp is 2026-12-03T16:00:01Z; the clock is 29 s later.
	for file, sig := range hubSignatures {
		if r := h.post(t, testsupport.Fixture(t, file), "X-Hub-Signature-256", sig); r.status != 202 {
			t.Errorf("hmac %s: got %d %v", file, r.status, r.body)
		}
	}
	notification := testsupport.Fixture(t, "events/notification-user-start.json")
	cases := map[string][]string{
		"standard webhooks": {"webhook-id", swID, "webhook-timestamp", swTS,
			"webhook-signature", "v1,bm90LXRoZS1yaWdodC1zaWduYXR1cmUtYXQtYWxsLXh4eA== " + swSig},
		"api key": {"Authorization", "Bearer " + apiKey},
		"jwt hs256": {"Authorization", "Bearer " +
			h.token(t, jwt.SigningMethodHS256, []byte(hsSecret), "", nil)},
		"jwt rs256": {"Authorization", "Bearer " +
			h.token(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", nil)},
		"jwt es256": {"Authorization", "Bearer " +
			h.token(t, jwt.SigningMethodES256, k.ec, "ec-1", nil)},
	}
	for name, headers := range cases {
		if r := h.post(t, notification, headers...); r.status != 202 {
			t.Errorf("%s: got %d %v, want 202", name, r.status, r.body)
		}
	}
}

func TestAuthenticationRejects(t *testing.T) {
	k := newKeys(t)
	h := setup(t, allMethods(k))
	body := testsupport.Fixture(t, "events/notification-user-start.json")
	pub, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	none := strings.Join([]string{
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://issuer.example",` +
			`"aud":"scriptsync","exp":9999999999}`)), ""}, ".")
	hs := func(edit func(jwt.MapClaims)) string {
		return "Bearer " + h.token(t, jwt.SigningMethodHS256, []byte(hsSecret), "", edit)
	}
	cases := []struct {
		name    string
		headers []string
		mention string
	}{
		{"no credentials", nil, "no credentials"},
		{"hmac wrong secret", []string{"X-Hub-Signature-256",
			"sha256=po6BsTyO0Uj5GzhfLzkzmx8kXdvFgPrDFhVw7p+9dQs="}, "does not match"},
		{"hmac no prefix", []string{"X-Hub-Signature-256", "ZpRkjbJhz7oOmqJRXV2gchDZR5p"}, "sha256="},
		{"standard webhooks outside tolerance", []string{"webhook-id", swID,
			"webhook-timestamp", "1796312000", "webhook-signature", swSig}, "tolerance"},
		{"standard webhooks other id", []string{"webhook-id", "msg_other",
			"webhook-timestamp", swTS, "webhook-signature", swSig}, "no v1 signature"},
		{"api key wrong", []string{"Authorization", "Bearer not-the-key-0123456789"},
			"key not accepted"},
		{"jwt alg none", []string{"Authorization", "Bearer " + none}, "jwt"},
		{"jwt hs/rs confusion", []string{"Authorization", "Bearer " +
			h.token(t, jwt.SigningMethodHS256, pub, "rsa-1", nil)}, "jwt"},
		{"jwt unknown kid", []string{"Authorization", "Bearer " +
			h.token(t, jwt.SigningMethodRS256, k.rsa, "rsa-404", nil)}, "no key"},
		{"jwt expired", []string{"Authorization", hs(func(c jwt.MapClaims) {
			c["exp"] = h.now.Add(-time.Hour).Unix()
		})}, "expired"},
		{"jwt not yet valid", []string{"Authorization", hs(func(c jwt.MapClaims) {
			c["nbf"] = h.now.Add(time.Hour).Unix()
		})}, "not valid yet"},
		{"jwt wrong audience", []string{"Authorization", hs(func(c jwt.MapClaims) {
			c["aud"] = "someone-else"
		})}, "audience"},
		{"jwt no exp", []string{"Authorization", hs(func(c jwt.MapClaims) {
			delete(c, "exp")
		})}, "exp"},
	}
	for _, c := range cases {
		r := h.post(t, body, c.headers...)
		if r.status != 401 || errorCode(r) != "unauthorized" ||
			!strings.Contains(errorMessage(r), c.mention) {
			t.Errorf("%s: got %d %v, want 401 mentioning %q", c.name, r.status, r.body, c.mention)
		}
		for _, secret := range []string{hubSecret, apiKey, hsSecret} {
			if strings.Contains(errorMessage(r), secret) {
				t.Errorf("%s: answer echoes a secret", c.name)
			}
		}
	}
	if n := len(h.stored(t)); n != 0 {
		t.Fatalf("%d unauthenticated events stored", n)
	}
}

func TestAuthNoneMustBeExplicit(t *testing.T) {
	cfg := config.Default()
	err := cfg.Ingest.RequireAuth()
	if err == nil || !strings.Contains(err.Error(), "ingest.auth.methods") {
		t.Fatalf("no auth method configured: got %v, want an error naming ingest.auth.methods",
			err)
	}
	cfg.Ingest.Auth.Methods = []string{config.AuthHMAC}
	cfg.Ingest.Auth.HMAC.Secrets = []string{"short"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "shorter than 16") {
		t.Fatalf("short secret: got %v", err)
	}
}

func signHub(body []byte) string {
	mac := hmac.New(sha256.New, []byte(hubSecret))
	mac.Write(body)
	return "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// An API key may itself contain two dots, as a JWT does. It is left to the jwt method
// only when that method is configured and reads the same header; otherwise it is checked.
func TestAPIKeyShapedLikeAJWT(t *testing.T) {
	const dotted = "key.with.two-dots-0123456789"
	verify := func(methods []string, header, value string) error {
		t.Helper()
		cfg := config.Default().Ingest.Auth
		cfg.Methods = methods
		cfg.APIKey.Keys = []string{dotted}
		cfg.JWT.HS256Secrets = []string{hsSecret}
		cfg.JWT.Issuer, cfg.JWT.Audience = "iss", "aud"
		if header != "" {
			cfg.APIKey.Header, cfg.APIKey.Scheme = header, ""
		}
		auth, err := ingest.NewAuthenticator(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/v1/events", nil)
		if header == "" {
			r.Header.Set("Authorization", value)
		} else {
			r.Header.Set(header, value)
		}
		return auth.Verify(r, nil)
	}
	apiKeyOnly := []string{config.AuthAPIKey}
	if err := verify(apiKeyOnly, "", "Bearer "+dotted); err != nil {
		t.Errorf("api_key alone, the right dotted key: %v", err)
	}
	err := verify(apiKeyOnly, "", "Bearer wrong.dotted.key-0123456789")
	if err == nil || !strings.Contains(err.Error(), "key not accepted") {
		t.Errorf("api_key alone, a wrong dotted key: got %v, want key not accepted", err)
	}
	both := []string{config.AuthAPIKey, config.AuthJWT}
	if err := verify(both, "X-Api-Key", dotted); err != nil {
		t.Errorf("jwt on Authorization, the dotted key in X-Api-Key: %v", err)
	}
	// With jwt reading the same header, a token-shaped value is the jwt method's to judge.
	err = verify(both, "", "Bearer "+dotted)
	if err == nil || !strings.Contains(err.Error(), "jwt:") ||
		strings.Contains(err.Error(), "api_key:") {
		t.Errorf("jwt and api_key on Authorization: got %v, want a jwt refusal", err)
	}
}

// Hex signatures of the fixtures, computed with openssl (`openssl dgst -sha256 -hmac`),
// the same MACs as the base64 values in fixtures/signatures.md.
var hubHexSignatures = map[string]string{
	"events/notification-user-start.json": "sha256=" +
		"6694648db261cfba0e9aa2515d5da07210d9479a57c8e2b1e3236e7b670308b6",
	"events/eventbridge-customer-start.json": "sha256=" +
		"a68e81b13c8ed148f91b385f2f39339b1f245ddbc580fac3161570ee9fbd750b",
	"events/custom-script-step-entered.json": "sha256=" +
		"9914076e22d1ba4eaa5af3347f9eda3fc595683a6ccd0f45d0a3e0182db6ab95",
}

func TestHMACHexSignatures(t *testing.T) {
	h := setup(t, func(c *config.Config) {
		c.Ingest.Auth.Methods = []string{config.AuthHMAC}
		c.Ingest.Auth.HMAC.Secrets = []string{hubSecret}
		c.Ingest.Auth.HMAC.Encoding = "hex"
	})
	for file, sig := range hubHexSignatures {
		// The hex and the base64 values name the same MAC.
		raw, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
		if err != nil || "sha256="+base64.StdEncoding.EncodeToString(raw) != hubSignatures[file] {
			t.Fatalf("%s: hex value does not match fixtures/signatures.md", file)
		}
		body := testsupport.Fixture(t, file)
		if r := h.post(t, body, "X-Hub-Signature-256", sig); r.status != 202 {
			t.Errorf("%s, lower-case hex: got %d %v, want 202", file, r.status, r.body)
		}
		upper := "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256="))
		if r := h.post(t, body, "X-Hub-Signature-256", upper); r.status != 202 {
			t.Errorf("%s, upper-case hex: got %d %v, want 202", file, r.status, r.body)
		}
	}
	body := testsupport.Fixture(t, "events/notification-user-start.json")
	other := hubHexSignatures["events/eventbridge-customer-start.json"]
	cases := []struct{ name, value, mention string }{
		{"base64 to a hex verifier", hubSignatures["events/notification-user-start.json"],
			"not an encoded HMAC-SHA256"},
		{"another body's hex signature", other, "does not match"},
		{"hex one byte short", other[:len(other)-2], "not an encoded HMAC-SHA256"},
		{"odd hex digits", other[:len(other)-1], "not an encoded HMAC-SHA256"},
	}
	for _, c := range cases {
		r := h.post(t, body, "X-Hub-Signature-256", c.value)
		if r.status != 401 || !strings.Contains(errorMessage(r), c.mention) {
			t.Errorf("%s: got %d %v, want 401 mentioning %q", c.name, r.status, r.body,
				c.mention)
		}
	}
	if n := len(h.stored(t)); n != len(hubHexSignatures) {
		t.Fatalf("stored %d events, want %d", n, len(hubHexSignatures))
	}
}

// During a rotation each method holds the old and the new secret; a sender signing with
// either is accepted, and one signing with neither is not.
func TestSecretRotation(t *testing.T) {
	const (
		newSW     = "whsec_bmV3LXN0YW5kYXJkLXdlYmhvb2tzLWtleS0zMmJ5dGVz"
		strangeSW = "whsec_c29tZW9uZS1lbHNlcy1zdGFuZGFyZC13ZWJob29rcy1r"
		newKey    = "eventbridge-api-key-rotated-9876543210"
		newHS     = "jwt-hs256-secret-rotated-9876543210abcdefghij"
	)
	h := setup(t, func(c *config.Config) {
		a := &c.Ingest.Auth
		a.Methods = []string{config.AuthStandardWebhooks, config.AuthAPIKey, config.AuthJWT}
		// The new secret first, the one senders still use second: order must not matter.
		a.StandardWebhooks.Secrets = []string{newSW, swSecret}
		a.APIKey.Keys = []string{newKey, apiKey}
		a.JWT.HS256Secrets = []string{newHS, hsSecret}
		a.JWT.Issuer, a.JWT.Audience = "https://issuer.example", "scriptsync"
	})
	body := testsupport.Fixture(t, "events/notification-user-start.json")
	signWith := func(secret, id string) []string {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + swTS + "."))
		mac.Write(body)
		return []string{"webhook-id", id, "webhook-timestamp", swTS, "webhook-signature",
			"v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))}
	}
	bearerHS := func(secret string) []string {
		return []string{"Authorization", "Bearer " +
			h.token(t, jwt.SigningMethodHS256, []byte(secret), "", nil)}
	}
	accepted := map[string][]string{
		"standard webhooks, old secret (fixture values)": {"webhook-id", swID,
			"webhook-timestamp", swTS, "webhook-signature", swSig},
		"standard webhooks, new secret": signWith(newSW, "msg_rotated"),
		"api key, old":                  {"Authorization", "Bearer " + apiKey},
		"api key, new":                  {"Authorization", "Bearer " + newKey},
		"jwt hs256, old secret":         bearerHS(hsSecret),
		"jwt hs256, new secret":         bearerHS(newHS),
	}
	for name, headers := range accepted {
		if r := h.post(t, body, headers...); r.status != 202 {
			t.Errorf("%s: got %d %v, want 202", name, r.status, r.body)
		}
	}
	refused := map[string][]string{
		"standard webhooks, a third secret": signWith(strangeSW, "msg_stranger"),
		"api key, a third key":              {"Authorization", "Bearer not-a-key-0123456789"},
		"jwt hs256, a third secret":         bearerHS("jwt-hs256-some-other-secret-0123456789ab"),
	}
	for name, headers := range refused {
		if r := h.post(t, body, headers...); r.status != 401 {
			t.Errorf("%s: got %d %v, want 401", name, r.status, r.body)
		}
	}
}
