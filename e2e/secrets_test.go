package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/adminapi"
	"github.com/scriptsync/scriptsync/internal/console"
	"github.com/scriptsync/scriptsync/internal/httpserve"
	"github.com/scriptsync/scriptsync/internal/ops"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// Every credential the logged run is configured with, and one wrong value of each kind,
// so the logs are searched for what a refusal could echo as well as for what is accepted.
const (
	webhookSecret = "e2e-webhook-secret-0123456789"
	// wrongSecret is a client secret the simulator refuses, so a login failure is logged.
	wrongSecret    = "e2e-wrong-client-secret-24680"
	ingestAPIKey   = "e2e-ingest-api-key-0123456789"
	wrongAPIKey    = "e2e-wrong-ingest-api-key-13579"
	jwtSecret      = "e2e-jwt-hs256-secret-0123456789abcdef"
	wrongJWTSecret = "e2e-wrong-jwt-hs256-secret-97531abcdef"
	jwtIssuer      = "https://issuer.e2e.example"
	jwtAudience    = "scriptsync"
	adminToken     = "e2e-logged-admin-token-0123456789"
	wrongAdmin     = "e2e-wrong-admin-token-86420"
)

// logSink keeps every log line written to it.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) Sync() error { return nil }

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// debugLogger logs at debug level in both formats the scriptsync command offers, JSON and
// console, into sink.
func debugLogger(sink *logSink) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	return zap.New(zapcore.NewTee(
		zapcore.NewCore(zapcore.NewJSONEncoder(enc), sink, zap.DebugLevel),
		zapcore.NewCore(zapcore.NewConsoleEncoder(enc), sink, zap.DebugLevel),
	))
}

// tokenRecorder wraps the simulator and keeps every access token it issues.
type tokenRecorder struct {
	mu     sync.Mutex
	tokens []string
}

func (r *tokenRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, req)
			return
		}
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, req)
		var ans struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(cw.body.Bytes(), &ans) == nil && ans.AccessToken != "" {
			r.mu.Lock()
			r.tokens = append(r.tokens, ans.AccessToken)
			r.mu.Unlock()
		}
	})
}

func (r *tokenRecorder) issued() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...)
}

type captureWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (c *captureWriter) Write(p []byte) (int, error) {
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}

func (s *stack) postSigned(t *testing.T, body []byte, signature string) int {
	t.Helper()
	return s.postWith(t, body, "X-Hub-Signature-256", signature)
}

// postBearer posts body with Authorization: Bearer credential, an API key or a JWT.
func (s *stack) postBearer(t *testing.T, body []byte, credential string) int {
	t.Helper()
	return s.postWith(t, body, "Authorization", "Bearer "+credential)
}

func (s *stack) postWith(t *testing.T, body []byte, header, value string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.ingestURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func hubSignature(body []byte) string {
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(body)
	return "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// hs256 is a JWT the ingest's jwt method accepts when secret is one of its HS256 secrets.
func hs256(t *testing.T, secret string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": jwtIssuer, "aud": jwtAudience, "sub": "e2e-sender",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// adminListener is the admin listener as scriptsync ingest and worker serve it when
// admin.token is set: the admin API and the console on one mux, logging to the stack's
// logger, over the stack's streams and a worker's metrics.
type adminListener struct {
	url  string
	stop func()
}

func (s *stack) serveAdmin(t *testing.T, g prometheus.Gatherer) adminListener {
	t.Helper()
	log := s.logger(zap.NewNop())
	api, err := adminapi.New(adminapi.Options{Ops: s.opsService(), Token: s.cfg.Admin.Token,
		ReplayRate: s.cfg.Admin.ReplayRate,
		Logger:     log.With(zap.String("component", "admin_api"))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.Handle(adminapi.Prefix, api)
	c := console.Start(ctx, mux, console.Options{JS: s.conn.JS, Stream: s.cfg.Stream,
		DeadLetter: s.cfg.Worker.DeadLetter, Consumer: s.cfg.Worker.Consumer, Gatherer: g,
		Namespace: s.cfg.Metrics.Namespace, Token: s.cfg.Admin.Token,
		Interval: 100 * time.Millisecond, Logger: log.With(zap.String("component", "console"))})
	srv, err := httpserve.Listen(ctx, "admin", "127.0.0.1:0", mux, httpserve.DefaultTimeouts,
		time.Second, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-c.Done()
			if err := <-done; err != nil {
				t.Errorf("admin listener: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return adminListener{url: "http://" + srv.Addr(), stop: stop}
}

// call sends one request to the admin listener with token as its bearer token, and
// returns the status and the body.
func (a adminListener) call(t *testing.T, method, path, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// A whole run at debug level, through token refreshes and revocations, a login refused,
// retries, Genesys errors, a dead letter, webhooks accepted and refused by each of three
// methods, and the admin API and console used with the right token and a wrong one, must
// log no token, no secret and no phone number.
func TestLogsHoldNoSecretsOrPhoneNumbers(t *testing.T) {
	sink := &logSink{}
	rec := &tokenRecorder{}
	s := startLogged(t, sim.Options{TokenLifetime: time.Second}, func(c *config.Config) {
		c.Log.Level = "debug"
		c.Ingest.Auth.Methods = []string{config.AuthHMAC, config.AuthAPIKey, config.AuthJWT}
		c.Ingest.Auth.HMAC.Secrets = []string{webhookSecret}
		c.Ingest.Auth.APIKey.Keys = []string{ingestAPIKey}
		c.Ingest.Auth.JWT.HS256Secrets = []string{jwtSecret}
		c.Ingest.Auth.JWT.Issuer, c.Ingest.Auth.JWT.Audience = jwtIssuer, jwtAudience
		c.Admin.Token = adminToken
		c.Worker.Retry.Transient.Initial = 100 * time.Millisecond
		c.Worker.Retry.Transient.Max = time.Second
	}, debugLogger(sink), rec.wrap)
	registerFixtures(t, s, 300*time.Millisecond)
	good := s.startWorkerHandle(t)
	refused := s.startWorkerWith(t, func(c *config.Config) { c.Genesys.ClientSecret = wrongSecret })

	for _, name := range []string{"events/notification-user-start.json",
		"events/eventbridge-customer-start.json", "events/custom-script-step-entered.json"} {
		body := testsupport.Fixture(t, name)
		if got := s.postSigned(t, body, hubSignature(body)); got != http.StatusAccepted {
			t.Fatalf("%s: %d", name, got)
		}
		if got := s.postSigned(t, body, "sha256=bm90IGEgc2lnbmF0dXJl"); got != 401 {
			t.Fatalf("%s with a bad signature: %d", name, got)
		}
	}
	// The same events' kind through the other two methods, each also with a wrong value.
	goodJWT, badJWT := hs256(t, jwtSecret), hs256(t, wrongJWTSecret)
	byKey := flat("secrets-api-key", fixtureConv, fixtureAgent, "+14155550123", "s2")
	byJWT := flat("secrets-jwt", ebConv, ebCustomer, "+14155550199", "s3")
	for _, c := range []struct {
		what       string
		body       []byte
		credential string
		want       int
	}{
		{"api key", byKey, ingestAPIKey, http.StatusAccepted},
		{"wrong api key", byKey, wrongAPIKey, http.StatusUnauthorized},
		{"jwt", byJWT, goodJWT, http.StatusAccepted},
		{"jwt of a wrong secret", byJWT, badJWT, http.StatusUnauthorized},
	} {
		if got := s.postBearer(t, c.body, c.credential); got != c.want {
			t.Fatalf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	tooLong := flat("secrets-dead", fixtureConv, fixtureAgent, "+14155550666", "s1")
	if got := s.postSigned(t, tooLong, hubSignature(tooLong)); got != http.StatusAccepted {
		t.Fatalf("too long: %d", got)
	}
	// Errors and revoked tokens while the events are retried, and a login refused.
	if err := s.sim.SetFaults(sim.Faults{ErrorRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	s.sim.RevokeTokens()
	testsupport.Eventually(t, 20*time.Second, func() bool {
		c := s.sim.Counts()
		return c.InjectedErrors >= 3 && c.TokenRequests > c.TokensIssued
	}, "Genesys errors answered and a login refused: %+v", s.sim.Counts())
	refused.stop()
	if err := s.sim.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 30*time.Second, func() bool {
		return s.attributes(fixtureConv, fixtureAgent)["cust_tier"] == "gold" &&
			s.attributes(ebConv, ebCustomer)["cust_tier"] == "silver" &&
			len(s.deadLetters(t)) == 1
	}, "events applied and the oversized one dead-lettered")
	if d := s.deadLetters(t)[0]; d.Reason != event.ReasonPermanent {
		t.Errorf("dead letter reason %q, want %q", d.Reason, event.ReasonPermanent)
	}
	s.waitSettled(t, 20*time.Second)
	useAdmin(t, s.serveAdmin(t, good.reg))
	metrics := gatherText(t, good)
	good.stop()

	logs := sink.String()
	tokens := rec.issued()
	if len(tokens) < 2 || !strings.Contains(logs, `"level":"debug"`) ||
		!strings.Contains(logs, "event applied") ||
		!strings.Contains(logs, "dead letter deleted through the admin api") {
		t.Fatalf("the run did not exercise what it must: %d tokens, %d bytes of logs",
			len(tokens), len(logs))
	}
	forbidden := map[string]string{
		"client secret": "e2e-secret-0123456789", "refused client secret": wrongSecret,
		"webhook secret": webhookSecret,
		"ingest API key": ingestAPIKey, "refused ingest API key": wrongAPIKey,
		"JWT HS256 secret": jwtSecret, "refused JWT HS256 secret": wrongJWTSecret,
		"JWT": goodJWT, "refused JWT": badJWT,
		"admin token": adminToken, "refused admin token": wrongAdmin,
	}
	// A JWT's signature alone is as good as the secret for that token.
	for what, tok := range map[string]string{"JWT": goodJWT, "refused JWT": badJWT} {
		forbidden[what+" signature"] = tok[strings.LastIndex(tok, ".")+1:]
	}
	for i, tok := range tokens {
		forbidden["access token #"+strconv.Itoa(i+1)] = tok
	}
	for _, phone := range []string{"+14155550123", "4155550123", "+14155550199",
		"4155550199", "4155550666"} {
		forbidden["phone number "+phone] = phone
	}
	for what, value := range forbidden {
		if line := lineWith(logs, value); line != "" {
			t.Errorf("the logs hold a %s: %s", what, redact(line, value))
		}
		if line := lineWith(metrics, value); line != "" {
			t.Errorf("the metrics hold a %s: %s", what, redact(line, value))
		}
	}
}

// useAdmin calls the admin API and the console as an operator would during the run: the
// dead letters listed with the admin token and with a wrong one, the entry and its
// conversation shown with phone numbers revealed, the overview, and the entry deleted.
func useAdmin(t *testing.T, a adminListener) {
	t.Helper()
	defer a.stop()
	code, body := a.call(t, http.MethodGet, "/admin/v1/dead-letters", adminToken)
	var page ops.Page
	if code != http.StatusOK || json.Unmarshal(body, &page) != nil || len(page.Entries) != 1 {
		t.Fatalf("admin api list: %d %s", code, body)
	}
	for _, path := range []string{"/admin/v1/dead-letters", "/admin/v1/overview"} {
		code, body := a.call(t, http.MethodGet, path, wrongAdmin)
		if code != http.StatusUnauthorized || bytes.Contains(body, []byte(wrongAdmin)) {
			t.Errorf("%s with a wrong token: %d %s; want 401 without the token", path, code,
				redact(string(body), wrongAdmin))
		}
	}
	seq := strconv.FormatUint(page.Entries[0].Sequence, 10)
	for _, path := range []string{"/admin/v1/dead-letters/" + seq + "?reveal=true",
		"/admin/v1/overview", "/admin/v1/dead-letter-reasons",
		"/admin/v1/search?reveal=true&conversation_id=" + fixtureConv} {
		if code, body := a.call(t, http.MethodGet, path, adminToken); code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	// The pages are served without the token; a wrong one must not be logged either.
	if code, _ := a.call(t, http.MethodGet, console.Path, wrongAdmin); code != http.StatusOK {
		t.Errorf("GET %s: %d", console.Path, code)
	}
	if code, body := a.call(t, http.MethodDelete, "/admin/v1/dead-letters/"+seq,
		adminToken); code != http.StatusNoContent {
		t.Errorf("delete the dead letter: %d %s", code, body)
	}
}

// gatherText renders a worker's metrics as the /metrics endpoint would.
func gatherText(t *testing.T, h workerHandle) string {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func lineWith(text, value string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), value) {
			return sc.Text()
		}
	}
	return ""
}

// redact shows where a forbidden value sat without repeating it in the test's output.
func redact(line, value string) string {
	return strings.ReplaceAll(line, value, "<"+strings.Repeat("*", 8)+">")
}
