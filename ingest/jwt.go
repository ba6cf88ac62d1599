package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scriptsync/scriptsync/config"
)

// jwtVerifier accepts Authorization: Bearer <JWT>, HS256 against shared secrets and RS256
// or ES256 against a JWKS. The algorithm allowed for a key follows from the key's type,
// never from the token alone, which closes the "alg: none" and HS/RS confusion attacks.
type jwtVerifier struct {
	hsSecrets [][]byte
	jwks      *jwksCache
	parser    *jwt.Parser
}

func newJWTVerifier(c config.JWTAuth, now func() time.Time, hc *http.Client) *jwtVerifier {
	v := &jwtVerifier{
		parser: jwt.NewParser(
			jwt.WithValidMethods(allowedAlgs(c)),
			jwt.WithIssuer(c.Issuer),
			jwt.WithAudience(c.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(c.Leeway),
			jwt.WithTimeFunc(now),
		),
	}
	for _, s := range c.HS256Secrets {
		v.hsSecrets = append(v.hsSecrets, []byte(s))
	}
	if c.JWKSURL != "" {
		if hc == nil {
			hc = &http.Client{Timeout: 5 * time.Second}
		}
		v.jwks = &jwksCache{url: c.JWKSURL, refresh: c.JWKSRefresh, client: hc, now: now}
	}
	return v
}

func allowedAlgs(c config.JWTAuth) []string {
	var algs []string
	if len(c.HS256Secrets) > 0 {
		algs = append(algs, "HS256")
	}
	if c.JWKSURL != "" {
		algs = append(algs, "RS256", "ES256")
	}
	return algs
}

func (v *jwtVerifier) name() string { return config.AuthJWT }

func (v *jwtVerifier) present(r *http.Request) bool {
	_, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.Count(tok, ".") == 2
}

func (v *jwtVerifier) verify(r *http.Request, _ []byte) error {
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return errors.New("authorization scheme must be Bearer")
	}
	if len(raw) > 8192 {
		return errors.New("token too long")
	}
	var lastErr error
	for _, key := range v.candidates(r.Context(), raw) {
		_, err := v.parser.Parse(raw, func(t *jwt.Token) (any, error) {
			return key.verifyKey(t)
		})
		if err == nil {
			return nil
		}
		lastErr = err
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			break // a claim is wrong: another key will not fix that
		}
	}
	if lastErr == nil {
		return errors.New("no key for this token")
	}
	return describeJWTError(lastErr)
}

// candidate is one key a token may be checked against, with the only algorithm it allows.
type candidate struct {
	alg string
	key any
}

func (c candidate) verifyKey(t *jwt.Token) (any, error) {
	if t.Method.Alg() != c.alg {
		return nil, fmt.Errorf("algorithm %s not allowed for this key", t.Method.Alg())
	}
	return c.key, nil
}

func (v *jwtVerifier) candidates(ctx context.Context, raw string) []candidate {
	var out []candidate
	hdr := peekHeader(raw)
	if hdr.Alg == "HS256" {
		for _, s := range v.hsSecrets {
			out = append(out, candidate{alg: "HS256", key: s})
		}
		return out
	}
	if v.jwks != nil && hdr.Kid != "" {
		if k, ok := v.jwks.key(ctx, hdr.Kid); ok {
			out = append(out, k)
		}
	}
	return out
}

type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

func peekHeader(raw string) tokenHeader {
	var h tokenHeader
	part, _, _ := strings.Cut(raw, ".")
	data, err := base64.RawURLEncoding.DecodeString(part)
	if err == nil {
		_ = json.Unmarshal(data, &h)
	}
	return h
}

func describeJWTError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errors.New("token not valid yet")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errors.New("wrong audience")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errors.New("wrong issuer")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errors.New("a required claim (exp) is missing")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errors.New("signature does not match")
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("token malformed or its algorithm is not allowed")
	}
	return errors.New("token not accepted")
}

// jwksCache holds the keys of a JWKS URL. It fetches lazily and again after the refresh
// interval; an unknown kid triggers an early fetch. Fetches, failed or not, are at least
// a minute apart, so neither a flood of made-up kids nor a failing URL can turn into a
// flood of fetches.
type jwksCache struct {
	url     string
	refresh time.Duration
	client  *http.Client
	now     func() time.Time

	mu        sync.Mutex
	keys      map[string]candidate
	fetchedAt time.Time // last fetch that worked: the age of keys
	triedAt   time.Time // last fetch, failed or not
}

const jwksMinInterval = time.Minute

func (c *jwksCache) key(ctx context.Context, kid string) (candidate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[kid]
	stale := c.keys == nil || c.now().Sub(c.fetchedAt) > c.refresh
	if ok && !stale {
		return k, true
	}
	// The fetch runs under the lock, each up to the client's timeout: without this wait
	// after a failed fetch too, every request would queue behind one while the URL fails.
	if !c.triedAt.IsZero() && c.now().Sub(c.triedAt) < jwksMinInterval {
		return k, ok
	}
	keys, err := fetchJWKS(ctx, c.client, c.url)
	c.triedAt = c.now()
	if err == nil {
		c.keys, c.fetchedAt = keys, c.triedAt
	}
	// After a failure the cached keys, if any, go on serving until a fetch works: a key
	// set that was right a little while ago is better than refusing every sender.
	k, ok = c.keys[kid]
	return k, ok
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// fetchJWKS reads the key set at url, which comes from the operator's configuration.
func fetchJWKS(ctx context.Context, hc *http.Client, url string) (map[string]candidate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil) //nolint:gosec // configured URL
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req) //nolint:gosec // configured URL
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := make(map[string]candidate, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if c, err := k.candidate(); err == nil {
			keys[k.Kid] = c
		}
	}
	return keys, nil
}

func (k jwk) candidate() (candidate, error) {
	switch k.Kty {
	case "RSA":
		n, err1 := decodeBig(k.N)
		e, err2 := decodeBig(k.E)
		if err := errors.Join(err1, err2); err != nil || !e.IsInt64() {
			return candidate{}, errors.New("bad RSA key")
		}
		return candidate{alg: "RS256", key: &rsa.PublicKey{N: n, E: int(e.Int64())}}, nil
	case "EC":
		if k.Crv != "P-256" {
			return candidate{}, errors.New("unsupported curve")
		}
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if errors.Join(err1, err2) != nil || len(x) != 32 || len(y) != 32 {
			return candidate{}, errors.New("bad EC key")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return candidate{}, errors.New("bad EC key")
		}
		return candidate{alg: "ES256", key: pub}, nil
	}
	return candidate{}, errors.New("unsupported key type")
}

func decodeBig(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("bad base64url integer")
	}
	return new(big.Int).SetBytes(b), nil
}
