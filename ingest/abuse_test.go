package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/app"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// The tests in this file send what a careless or hostile sender would, beyond the cases
// ingest_test.go and auth_test.go cover. Each must be answered with a clear 4xx (or, for a
// client too slow to finish its request, a cut connection) and leave nothing stored.

// rejectAll posts each case and checks status and error code, then that nothing was stored.
func (h *harness) rejectAll(t *testing.T, cases []abuseCase) {
	t.Helper()
	for _, c := range cases {
		r := h.post(t, c.body, c.headers...)
		if r.status != c.status || (c.code != "" && errorCode(r) != c.code) {
			t.Errorf("%s: got %d %v, want %d %s", c.name, r.status, r.body, c.status, c.code)
		}
	}
	if n := len(h.stored(t)); n != 0 {
		t.Fatalf("%d events stored, want none", n)
	}
}

type abuseCase struct {
	name    string
	body    []byte
	headers []string
	status  int
	code    string
}

func TestWrongContentTypes(t *testing.T) {
	h := setup(t, nil)
	body := testsupport.Fixture(t, "events/notification-user-start.json")
	var cases []abuseCase
	for _, ct := range []string{"", "text/plain", "text/json", "application/xml",
		"application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/jsonx", "application/json; charset", "application/octet-stream",
		"json", "*/*"} {
		cases = append(cases, abuseCase{name: "Content-Type " + strconv.Quote(ct), body: body,
			headers: []string{"Content-Type", ct}, status: 415, code: "unsupported_media_type"})
	}
	h.rejectAll(t, cases)
}

func TestBodyLimitBoundary(t *testing.T) {
	const limit = 2048
	h := setup(t, func(c *config.Config) { c.Ingest.MaxBodyBytes = limit })
	padded := func(size int, id string) []byte {
		head := `{"conversationId":"c1","eventType":"x","eventId":"` + id + `","pad":"`
		return []byte(head + strings.Repeat("a", size-len(head)-2) + `"}`)
	}
	if r := h.post(t, padded(limit, "at-limit")); r.status != 202 {
		t.Fatalf("a body of exactly the limit: got %d %v, want 202", r.status, r.body)
	}
	if r := h.post(t, padded(limit+1, "over")); r.status != 413 {
		t.Errorf("one byte over the limit: got %d %v, want 413", r.status, r.body)
	}
	// Without Content-Length the limit is found while reading.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/events",
		io.MultiReader(bytes.NewReader(padded(4*limit, "chunked"))))
	req.Header.Set("Content-Type", "application/json")
	if r := do(t, req); r.status != 413 || errorCode(r) != "body_too_large" {
		t.Errorf("chunked over the limit: got %d %v, want 413", r.status, r.body)
	}
	if n := len(h.stored(t)); n != 1 {
		t.Fatalf("%d events stored, want only the one at the limit", n)
	}
}

func TestHugeNumbers(t *testing.T) {
	h := setup(t, nil)
	notification := func(eventTime string) []byte {
		return []byte(`{"topicName":"v2.detail.events.conversation.c1.user.start",` +
			`"eventBody":{"conversationId":"c1","eventTime":` + eventTime + `}}`)
	}
	var cases []abuseCase
	for _, n := range []string{"99999999999999999999", "1e21", "-1", "1.5e12",
		strings.Repeat("9", 5000), "-" + strings.Repeat("9", 400), "0.000001e-400"} {
		cases = append(cases, abuseCase{name: "eventTime " + n[:min(len(n), 24)],
			body: notification(n), status: 422, code: "invalid_event"})
	}
	cases = append(cases,
		abuseCase{name: "conversation id as a huge number",
			body: []byte(`{"conversationId":1e999,"eventType":"x"}`), status: 422,
			code: "invalid_event"},
		abuseCase{name: "occurredAt as a number beyond int64",
			body:   []byte(`{"conversationId":"c1","eventType":"x","occurredAt":1e30}`),
			status: 422, code: "invalid_event"})
	h.rejectAll(t, cases)
}

func TestInvalidUTF8(t *testing.T) {
	h := setup(t, nil)
	flat := func(inner string) []byte {
		return []byte(`{"conversationId":"c1","eventType":"x",` + inner + `}`)
	}
	cases := []abuseCase{
		{name: "in a key", body: flat(`"k\xff":"v"`), status: 400, code: "malformed_event"},
		{name: "overlong slash", body: flat(`"a":"\xc0\xaf"`), status: 400,
			code: "malformed_event"},
		{name: "surrogate half", body: flat(`"a":"\xed\xa0\x80"`), status: 400,
			code: "malformed_event"},
		{name: "truncated sequence at the end", body: append(flat(`"a":"b"`), 0xe2, 0x82),
			status: 400, code: "malformed_event"},
		{name: "inside a notification body", body: []byte(`{"topicName":` +
			`"v2.detail.events.conversation.c1.user.start","eventBody":{"conversationId":` +
			`"c1","ani":"tel:+1\xfe"}}`), status: 400, code: "malformed_event"},
		{name: "Latin-1 body",
			body:   []byte("{\"conversationId\":\"c1\",\"eventType\":\"caf\xe9\"}"),
			status: 400, code: "malformed_event"},
		{name: "escaped lone surrogate as the conversation id",
			body: []byte(`{"conversationId":"\ud800","eventType":"x"}`), status: 422,
			code: "invalid_event"},
		{name: "invalid UTF-8 in webhook-id", body: flat(`"a":"b"`),
			headers: []string{"webhook-id", "msg_\xff\xfe"}, status: 422, code: "invalid_event"},
	}
	h.rejectAll(t, cases)
}

// swSign signs as a Standard Webhooks sender holding swSecret.
func swSign(t *testing.T, id, ts string, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(swSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func standardWebhooksOnly(c *config.Config) {
	c.Ingest.Auth.Methods = []string{config.AuthStandardWebhooks}
	c.Ingest.Auth.StandardWebhooks.Secrets = []string{swSecret}
}

func TestStandardWebhooksReusedID(t *testing.T) {
	h := setup(t, standardWebhooksOnly)
	ts := strconv.FormatInt(h.now.Unix(), 10)
	first := []byte(`{"conversationId":"c1","eventType":"x","eventId":"sender-1"}`)
	other := []byte(`{"conversationId":"c2","eventType":"y","eventId":"sender-2"}`)
	send := func(body []byte) response {
		return h.post(t, body, "webhook-id", "msg_reused", "webhook-timestamp", ts,
			"webhook-signature", swSign(t, "msg_reused", ts, body))
	}
	// A replay of a captured delivery, or a sender's retry, is the same body again: the
	// id names the delivery, so it is answered as a duplicate and not stored again.
	for i, body := range [][]byte{first, first} {
		r := send(body)
		if r.status != 202 || r.body["id"] != "msg_reused" || r.body["duplicate"] != (i > 0) {
			t.Fatalf("delivery %d: got %d %v, want 202 duplicate=%v", i+1, r.status, r.body,
				i > 0)
		}
	}
	// A new body signed under an id already used is another event that would be lost
	// if it were answered as a duplicate: the sender must hear that it was not stored.
	r := send(other)
	if r.status != 409 || errorCode(r) != "id_reused" ||
		!strings.Contains(errorMessage(r), "msg_reused") {
		t.Fatalf("new body under a used id: got %d %v, want 409 id_reused", r.status, r.body)
	}
	if strings.Contains(errorMessage(r), "c2") || strings.Contains(errorMessage(r), "sender-2") {
		t.Errorf("the 409 echoes the body: %q", errorMessage(r))
	}
	// The first body sent again is still a plain duplicate.
	if r := send(first); r.status != 202 || r.body["duplicate"] != true {
		t.Fatalf("first body resent after the conflict: got %d %v, want 202 duplicate",
			r.status, r.body)
	}
	stored := h.stored(t)
	if len(stored) != 1 || stored[0].ConversationID != "c1" {
		t.Fatalf("stored %d events (%+v), want only the first delivery", len(stored), stored)
	}
	if n := h.requests(t, "id_reused"); n != 1 {
		t.Errorf("requests counted as id_reused: %v, want 1", n)
	}
	if n := h.requests(t, "duplicate"); n != 2 {
		t.Errorf("requests counted as duplicate: %v, want 2", n)
	}
}

// Every kind of sender id is checked the same way; the identity hash is not, as it is
// derived from the event and a different event gets a different hash.
func TestSenderIDReusedForAnotherBody(t *testing.T) {
	h := setup(t, nil)
	cases := []struct{ name, first, second string }{
		{"flat eventId",
			`{"conversationId":"c1","eventType":"x","eventId":"flat-1"}`,
			`{"conversationId":"c1","eventType":"x","eventId":"flat-1","stepId":"s2"}`},
		{"EventBridge id",
			`{"version":"0","id":"eb-1","detail-type":"x","time":"2026-12-03T16:00:00Z",` +
				`"detail":{"topicName":"v2.detail.events.conversation.c1.user.start",` +
				`"eventBody":{"conversationId":"c1"}}}`,
			`{"version":"0","id":"eb-1","detail-type":"x","time":"2026-12-03T16:00:00Z",` +
				`"detail":{"topicName":"v2.detail.events.conversation.c2.user.start",` +
				`"eventBody":{"conversationId":"c2"}}}`},
		{"notification CorrelationId",
			`{"topicName":"v2.detail.events.conversation.c1.user.start",` +
				`"eventBody":{"conversationId":"c1"},"metadata":{"CorrelationId":"corr-1"}}`,
			`{"topicName":"v2.detail.events.conversation.c1.user.start",` +
				`"eventBody":{"conversationId":"c1","userId":"u2"},` +
				`"metadata":{"CorrelationId":"corr-1"}}`},
	}
	for _, c := range cases {
		if r := h.post(t, []byte(c.first)); r.status != 202 || r.body["duplicate"] != false {
			t.Fatalf("%s, first: got %d %v, want 202 stored", c.name, r.status, r.body)
		}
		// Whitespace around the JSON value is not part of the body.
		if r := h.post(t, []byte(" "+c.first+"\n")); r.status != 202 ||
			r.body["duplicate"] != true {
			t.Fatalf("%s, retry: got %d %v, want 202 duplicate", c.name, r.status, r.body)
		}
		if r := h.post(t, []byte(c.second)); r.status != 409 || errorCode(r) != "id_reused" {
			t.Fatalf("%s, another body: got %d %v, want 409 id_reused", c.name, r.status,
				r.body)
		}
	}
	if n := len(h.stored(t)); n != len(cases) {
		t.Fatalf("stored %d events, want %d", n, len(cases))
	}
}

// When the first copy is gone from the stream (by retention, or deleted) while JetStream
// still remembers its id, a body cannot be compared: the request is answered as the
// duplicate it may well be, since the id was stored once.
func TestReusedIDWithFirstCopyGone(t *testing.T) {
	h := setup(t, nil)
	r := h.post(t, []byte(`{"conversationId":"c1","eventType":"x","eventId":"gone-1"}`))
	if r.status != 202 {
		t.Fatalf("first: got %d %v", r.status, r.body)
	}
	ctx := context.Background()
	s, err := h.js.Stream(ctx, h.cfg.Stream.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctx, 1); err != nil {
		t.Fatal(err)
	}
	r = h.post(t, []byte(`{"conversationId":"c1","eventType":"x","eventId":"gone-1","n":2}`))
	if r.status != 202 || r.body["duplicate"] != true {
		t.Fatalf("another body under the id of a deleted copy: got %d %v, want 202 duplicate",
			r.status, r.body)
	}
	if n := len(h.stored(t)); n != 0 {
		t.Fatalf("stored %d events, want none left", n)
	}
}

func TestStandardWebhooksHeaderAbuse(t *testing.T) {
	h := setup(t, standardWebhooksOnly)
	body := []byte(`{"conversationId":"c1","eventType":"x"}`)
	now := h.now.Unix()
	signed := func(id string, ts int64) []string {
		s := strconv.FormatInt(ts, 10)
		return []string{"webhook-id", id, "webhook-timestamp", s,
			"webhook-signature", swSign(t, id, s, body)}
	}
	cases := []abuseCase{
		{name: "timestamp ahead beyond the tolerance", body: body,
			headers: signed("msg_1", now+6*60), status: 401, code: "unauthorized"},
		{name: "timestamp in milliseconds", body: body,
			headers: signed("msg_2", now*1000), status: 401, code: "unauthorized"},
		{name: "timestamp not a number", body: body, headers: []string{"webhook-id", "msg_3",
			"webhook-timestamp", "yesterday", "webhook-signature", swSign(t, "msg_3", "x", body)},
			status: 401, code: "unauthorized"},
		{name: "timestamp beyond int64", body: body, headers: []string{"webhook-id", "msg_4",
			"webhook-timestamp", "99999999999999999999", "webhook-signature",
			swSign(t, "msg_4", "99999999999999999999", body)}, status: 401, code: "unauthorized"},
		{name: "no webhook-id", body: body, headers: []string{"webhook-timestamp",
			strconv.FormatInt(now, 10), "webhook-signature", signed("", now)[5]},
			status: 401, code: "unauthorized"},
		{name: "v2 scheme", body: body, headers: []string{"webhook-id", "msg_5",
			"webhook-timestamp", strconv.FormatInt(now, 10), "webhook-signature",
			"v2," + strings.TrimPrefix(signed("msg_5", now)[5], "v1,")},
			status: 401, code: "unauthorized"},
		{name: "body changed after signing", body: append([]byte(" "), body...),
			headers: signed("msg_6", now), status: 401, code: "unauthorized"},
	}
	h.rejectAll(t, cases)
}

func TestJWTAbuse(t *testing.T) {
	k := newKeys(t)
	h := setup(t, allMethods(k))
	body := testsupport.Fixture(t, "events/notification-user-start.json")
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(method jwt.SigningMethod, key any, kid string, edit func(jwt.MapClaims),
	) []string {
		return []string{"Authorization", "Bearer " + h.token(t, method, key, kid, edit)}
	}
	leeway := config.Default().Ingest.Auth.JWT.Leeway
	cases := []struct {
		name    string
		headers []string
		mention string
	}{
		{"wrong issuer", bearer(jwt.SigningMethodHS256, []byte(hsSecret), "",
			func(c jwt.MapClaims) { c["iss"] = "https://elsewhere.example" }), "issuer"},
		{"issued in the future", bearer(jwt.SigningMethodHS256, []byte(hsSecret), "",
			func(c jwt.MapClaims) { c["iat"] = h.now.Add(time.Hour).Unix() }), "not valid yet"},
		{"expired just past the leeway", bearer(jwt.SigningMethodHS256, []byte(hsSecret), "",
			func(c jwt.MapClaims) { c["exp"] = h.now.Add(-leeway - time.Second).Unix() }),
			"expired"},
		{"HS256 with another secret", bearer(jwt.SigningMethodHS256,
			[]byte("not-the-secret-not-the-secret-not-the-secret"), "", nil), "does not match"},
		{"HS512 with the right secret", bearer(jwt.SigningMethodHS512, []byte(hsSecret), "",
			nil), "jwt"},
		{"RS256 by another key under a known kid", bearer(jwt.SigningMethodRS256, other,
			"rsa-1", nil), "does not match"},
		{"RS256 under the EC key's kid", bearer(jwt.SigningMethodRS256, k.rsa, "ec-1", nil),
			"not allowed"},
		{"ES256 under the RSA key's kid", bearer(jwt.SigningMethodES256, k.ec, "rsa-1", nil),
			"not allowed"},
		{"RS256 without a kid", bearer(jwt.SigningMethodRS256, k.rsa, "", nil), "no key"},
		{"another scheme", []string{"Authorization", "Token " + h.token(t,
			jwt.SigningMethodHS256, []byte(hsSecret), "", nil)}, "Bearer"},
		{"token over 8 KiB", bearer(jwt.SigningMethodHS256, []byte(hsSecret), "",
			func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", 9000) }), "too long"},
		{"three empty segments", []string{"Authorization", "Bearer .."}, "jwt"},
	}
	for _, c := range cases {
		r := h.post(t, body, c.headers...)
		if r.status != 401 || errorCode(r) != "unauthorized" ||
			!strings.Contains(errorMessage(r), c.mention) {
			t.Errorf("%s: got %d %v, want 401 mentioning %q", c.name, r.status, r.body,
				c.mention)
		}
	}
	if n := len(h.stored(t)); n != 0 {
		t.Fatalf("%d events stored, want none", n)
	}
}

// slowIngest is the ingest as the scriptsync command runs it, with its server timeouts
// shortened so slow clients are cut off within the test.
type slowIngest struct {
	addr   string
	stored func() int
}

func startSlowIngest(t *testing.T) *slowIngest {
	t.Helper()
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	cfg := config.Default()
	cfg.NATS.URL = n.URL()
	cfg.Ingest.Addr = "127.0.0.1:0"
	cfg.Ingest.Auth.Methods = []string{config.AuthNone}
	cfg.Ingest.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.Ingest.ReadTimeout = 600 * time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := broker.Connect(ctx, cfg.NATS, false, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := app.Ingest(ctx, &cfg, conn, prometheus.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
		conn.Close()
	})
	return &slowIngest{addr: srv.Addr(), stored: func() int {
		return len(testsupport.StreamMessages(t, js, cfg.Stream.Name))
	}}
}

// trickle writes s a byte every 50 ms, as a slow client would, until the connection
// fails or s is sent.
func trickle(c net.Conn, s string) {
	pace := time.NewTicker(50 * time.Millisecond)
	defer pace.Stop()
	for i := range len(s) {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
		<-pace.C
	}
}

// cutOff reads what the server sends until it closes the connection, and returns the
// status line, if any, and how long the server took to close.
func cutOff(t *testing.T, c net.Conn, start time.Time) (string, time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a slow client's connection open for 10 s")
	}
	return strings.TrimSpace(line), time.Since(start)
}

func TestSlowClientsAreCutOff(t *testing.T) {
	in := startSlowIngest(t)
	body := `{"conversationId":"c1","eventType":"x","eventId":"slow"}`
	head := "POST /v1/events HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	cases := []struct {
		name string
		// send writes the request's beginning, then stalls or trickles.
		send func(c net.Conn)
		// within bounds the time to the cut: the server's timeout plus scheduling slack.
		within time.Duration
	}{
		{"headers never finished", func(c net.Conn) {
			_, _ = io.WriteString(c, head)
		}, 3 * time.Second},
		{"headers trickled a byte at a time", func(c net.Conn) {
			trickle(c, head)
		}, 3 * time.Second},
		{"body stalled", func(c net.Conn) {
			_, _ = io.WriteString(c, head+"\r\n"+body[:10])
		}, 3 * time.Second},
		{"body trickled a byte at a time", func(c net.Conn) {
			_, _ = io.WriteString(c, head+"\r\n")
			trickle(c, body[:len(body)-1])
		}, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", in.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			start := time.Now()
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				c.send(conn)
			}()
			status, took := cutOff(t, conn, start)
			_ = conn.Close()
			<-sent
			t.Logf("answered %q, cut after %s", status, took.Round(time.Millisecond))
			if took > c.within {
				t.Errorf("cut off after %s, want within %s", took, c.within)
			}
			if status != "" && !strings.HasPrefix(status, "HTTP/1.1 4") {
				t.Errorf("answered %q, want a 4xx or a closed connection", status)
			}
		})
	}
	if n := in.stored(); n != 0 {
		t.Fatalf("%d events from slow clients stored, want none", n)
	}
	// The same request sent at once is stored: the cuts above were about time alone.
	conn, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_, _ = io.WriteString(conn, head+"Connection: close\r\n\r\n"+body)
	if status, _ := cutOff(t, conn, time.Now()); !strings.HasPrefix(status, "HTTP/1.1 202") {
		t.Fatalf("a prompt client: %q, want 202", status)
	}
	if n := in.stored(); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
}
