package ingest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/ingest"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func FuzzNormalize(f *testing.F) {
	for _, name := range []string{
		"events/notification-user-start.json", "events/eventbridge-customer-start.json",
		"events/custom-script-step-entered.json", "events/bad-no-conversation.json",
		"events/bad-truncated.json", "events/bad-unknown-envelope.json",
		"events/bad-wrong-types.json",
	} {
		f.Add(testsupport.Fixture(f, name), "")
	}
	f.Add([]byte(`{"conversationId":"c","eventType":"t","eventTime":-1}`), "wh_1")
	now := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, webhookID string) {
		ev, err := ingest.Normalize(body, webhookID, now)
		if err != nil {
			if !errors.Is(err, ingest.ErrMalformed) && !errors.Is(err, ingest.ErrInvalid) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		// Whatever is accepted must be safe to put in a subject and a header.
		if ev.ID == "" || strings.ContainsAny(ev.ID, "\r\n ") || len(ev.ID) > 200 {
			t.Fatalf("bad id %q", ev.ID)
		}
		if ev.ConversationID == "" || strings.ContainsAny(ev.ConversationID, ".*> \t\r\n") {
			t.Fatalf("bad conversation id %q", ev.ConversationID)
		}
		if ev.Type == "" || ev.EventTime.IsZero() || !ev.ReceivedAt.Equal(now) {
			t.Fatalf("incomplete event %+v", ev)
		}
		// What is stored must decode back to the same event.
		data, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := event.Unmarshal(data)
		if err != nil {
			t.Fatalf("stored encoding does not decode: %v", err)
		}
		if back.ID != ev.ID || back.ConversationID != ev.ConversationID ||
			!maps.Equal(back.Fields, ev.Fields) || string(back.Raw) != string(ev.Raw) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, back)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "sha256=ZpRkjbJhz7oOmqJRXV2gchDZR5pXyOKx4yNue2cDCLY=", swID, swTS,
		swSig, "Bearer x.y.z")
	f.Add([]byte(``), "sha256=", "", "", "v1,", "Bearer "+apiKey+"x")
	cfg := config.Default().Ingest.Auth
	cfg.Methods = []string{config.AuthHMAC, config.AuthStandardWebhooks, config.AuthAPIKey,
		config.AuthJWT}
	cfg.HMAC.Secrets = []string{hubSecret}
	cfg.StandardWebhooks.Secrets = []string{swSecret}
	cfg.APIKey.Keys = []string{apiKey}
	cfg.JWT.HS256Secrets = []string{hsSecret}
	// RS256 and ES256 keys behind a JWKS, so the fuzzer reaches the key lookup and the
	// public-key checks too. The clock below stands still, so the set is fetched once.
	cfg.JWT.JWKSURL = fuzzJWKS(f)
	cfg.JWT.Issuer, cfg.JWT.Audience = "iss", "aud"
	auth, err := ingest.NewAuthenticator(cfg, func() time.Time {
		return time.Unix(1796313601, 0)
	}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, hub, id, ts, sig, authz string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/events", nil)
		r.Header.Set("X-Hub-Signature-256", hub)
		r.Header.Set("webhook-id", id)
		r.Header.Set("webhook-timestamp", ts)
		r.Header.Set("webhook-signature", sig)
		r.Header.Set("Authorization", authz)
		// The API key is a plain shared secret the seed corpus holds; the fuzzer finds it
		// there. Anything else must never be accepted: forging it needs a secret.
		if strings.Contains(authz, apiKey) {
			return
		}
		if err := auth.Verify(r, body); err == nil {
			t.Fatalf("accepted forged credentials: hub=%q sig=%q authz=%q", hub, sig, authz)
		} else if !errors.Is(err, ingest.ErrUnauthorized) {
			t.Fatalf("error of no known kind: %v", err)
		}
	})
}

// fuzzJWKS serves a key set of one RSA key (kid fuzz-rsa) and one P-256 key (kid
// fuzz-ec), made for this run: no token can be signed by them outside it. The seed
// corpus holds tokens under these kids signed by other keys.
func fuzzJWKS(f *testing.F) string {
	f.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	set, err := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "fuzz-rsa", "use": "sig", "n": b64(rk.N.Bytes()),
			"e": b64(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "fuzz-ec", "crv": "P-256",
			"x": b64(ek.X.FillBytes(make([]byte, 32))),
			"y": b64(ek.Y.FillBytes(make([]byte, 32)))},
	}})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	f.Cleanup(srv.Close)
	return srv.URL
}
