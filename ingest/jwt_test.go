package ingest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/ingest"
)

// countingJWKS serves one RSA key, counts the fetches, and fails them while failing is
// set.
type countingJWKS struct {
	key     *rsa.PrivateKey
	srv     *httptest.Server
	fetches atomic.Int64
	failing atomic.Bool
}

func newCountingJWKS(t *testing.T) *countingJWKS {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	j := &countingJWKS{key: key}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	set := map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "rsa-1",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.fetches.Add(1)
		if j.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(j.srv.Close)
	return j
}

// jwksAuth is an authenticator with only the jwt method against j, on a clock the test
// moves.
func jwksAuth(t *testing.T, j *countingJWKS, now *time.Time) *ingest.Authenticator {
	t.Helper()
	cfg := config.Default().Ingest.Auth
	cfg.Methods = []string{config.AuthJWT}
	cfg.JWT.JWKSURL = j.srv.URL
	cfg.JWT.Issuer, cfg.JWT.Audience = "iss", "aud"
	auth, err := ingest.NewAuthenticator(cfg, func() time.Time { return *now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

// bearerRequest carries an RS256 token under kid, valid an hour from now.
func bearerRequest(t *testing.T, key *rsa.PrivateKey, kid string, now time.Time) *http.Request {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "iss", "aud": "aud",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/events", nil)
	r.Header.Set("Authorization", "Bearer "+s)
	return r
}

func TestJWKSFailureWithKeysCachedDoesNotRefetchEveryRequest(t *testing.T) {
	j := newCountingJWKS(t)
	now := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	auth := jwksAuth(t, j, &now)
	if err := auth.Verify(bearerRequest(t, j.key, "rsa-1", now), nil); err != nil {
		t.Fatalf("first token: %v", err)
	}
	// The keys age past the refresh interval while the JWKS URL fails.
	j.failing.Store(true)
	now = now.Add(config.Default().Ingest.Auth.JWT.JWKSRefresh + time.Second)
	for i := range 20 {
		now = now.Add(time.Second)
		// A known kid goes on being accepted with the cached keys; made-up kids (as a
		// flood would send) are refused without a fetch each.
		if err := auth.Verify(bearerRequest(t, j.key, "rsa-1", now), nil); err != nil {
			t.Fatalf("request %d: cached key not served while the URL fails: %v", i, err)
		}
		if auth.Verify(bearerRequest(t, j.key, "made-up-"+strconv.Itoa(i), now), nil) == nil {
			t.Fatalf("request %d: made-up kid accepted", i)
		}
	}
	if n := j.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2: the first, and one failed refetch in the minute after",
			n)
	}
	// Past the minimum interval a fetch is tried again, and a working URL is used again.
	j.failing.Store(false)
	now = now.Add(time.Minute)
	if err := auth.Verify(bearerRequest(t, j.key, "rsa-1", now), nil); err != nil {
		t.Fatal(err)
	}
	if n := j.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 once the minimum interval passed", n)
	}
}

func TestJWKSFailureWithNothingCachedDoesNotRefetchEveryRequest(t *testing.T) {
	j := newCountingJWKS(t)
	j.failing.Store(true)
	now := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	auth := jwksAuth(t, j, &now)
	for i := range 10 {
		now = now.Add(time.Second)
		if auth.Verify(bearerRequest(t, j.key, "rsa-1", now), nil) == nil {
			t.Fatalf("request %d accepted without keys", i)
		}
	}
	if n := j.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 in the minute after a failed one", n)
	}
	j.failing.Store(false)
	now = now.Add(time.Minute)
	if err := auth.Verify(bearerRequest(t, j.key, "rsa-1", now), nil); err != nil {
		t.Fatalf("after the interval, with the URL working again: %v", err)
	}
	if n := j.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}
