package e2e_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

const (
	webhookSecret = "e2e-webhook-secret-0123456789"
	// wrongSecret is a client secret the simulator refuses, so a login failure is logged.
	wrongSecret = "e2e-wrong-client-secret-24680"
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
	req, err := http.NewRequest(http.MethodPost, s.ingestURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", signature)
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

// A whole run at debug level, through token refreshes and revocations, a login refused,
// retries, Genesys errors, a dead letter and refused webhooks, must log no token, no
// secret and no phone number.
func TestLogsHoldNoSecretsOrPhoneNumbers(t *testing.T) {
	sink := &logSink{}
	rec := &tokenRecorder{}
	s := startLogged(t, sim.Options{TokenLifetime: time.Second}, func(c *config.Config) {
		c.Log.Level = "debug"
		c.Ingest.Auth.Methods = []string{config.AuthHMAC}
		c.Ingest.Auth.HMAC.Secrets = []string{webhookSecret}
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
	metrics := gatherText(t, good)
	good.stop()

	logs := sink.String()
	tokens := rec.issued()
	if len(tokens) < 2 || !strings.Contains(logs, `"level":"debug"`) ||
		!strings.Contains(logs, "event applied") {
		t.Fatalf("the run did not exercise what it must: %d tokens, %d bytes of logs",
			len(tokens), len(logs))
	}
	forbidden := map[string]string{
		"client secret": "e2e-secret-0123456789", "refused client secret": wrongSecret,
		"webhook secret": webhookSecret,
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
