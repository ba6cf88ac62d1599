package sim_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/genesys/sim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start runs a simulator on an httptest server for one test.
func start(t *testing.T, opts sim.Options) (*sim.Server, *caller) {
	t.Helper()
	srv := sim.New(opts, zap.NewNop())
	ts := httptest.NewServer(srv.Handler())
	tr := &http.Transport{}
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		tr.CloseIdleConnections()
	})
	return srv, &caller{t: t, base: ts.URL, hc: &http.Client{Transport: tr}}
}

// caller speaks raw HTTP to the simulator, so tests control exactly which token reads and
// writes what.
type caller struct {
	t     *testing.T
	base  string
	hc    *http.Client
	token string
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (c *caller) do(method, path, body string, header ...string) reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// login returns a caller holding a fresh token: a separate reader and writer.
func (c *caller) login() *caller {
	c.t.Helper()
	r := c.do("POST", "/oauth/token", "grant_type=client_credentials",
		"Content-Type", "application/x-www-form-urlencoded",
		"Authorization", basic("id", "secret"))
	if r.status != 200 {
		c.t.Fatalf("token: %d %s", r.status, r.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	mustJSON(c.t, r.body, &tok)
	if tok.TokenType != "bearer" || tok.ExpiresIn <= 0 {
		c.t.Fatalf("token answer %s", r.body)
	}
	return &caller{t: c.t, base: c.base, hc: c.hc, token: tok.AccessToken}
}

func basic(id, secret string) string {
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

func (c *caller) read(conv string) int {
	c.t.Helper()
	return c.do("GET", "/api/v2/conversations/"+conv, "").status
}

func (c *caller) write(conv, pid, attrs string) int {
	c.t.Helper()
	return c.do("PATCH", "/api/v2/conversations/"+conv+"/participants/"+pid+"/attributes",
		`{"attributes":`+attrs+`}`, "Content-Type", "application/json").status
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
}

func opts() sim.Options {
	return sim.Options{ClientID: "id", ClientSecret: "secret"}
}

func registerOne(t *testing.T, srv *sim.Server) (string, string) {
	t.Helper()
	cs, err := srv.RegisterConversation(sim.ConversationSpec{
		Participants: []sim.ParticipantSpec{{Purpose: "customer"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs.ID, cs.Participants[0].ID
}

func TestLostUpdateDetection(t *testing.T) {
	t.Parallel()
	srv, anon := start(t, opts())
	conv, pid := registerOne(t, srv)
	a, b := anon.login(), anon.login()

	// Read, then write: clean.
	a.read(conv)
	a.write(conv, pid, `{"n":"1"}`)
	// Two reads, two writes by one token: the second write rests on a read the first
	// write made stale.
	a.read(conv)
	a.read(conv)
	a.write(conv, pid, `{"n":"2"}`)
	a.write(conv, pid, `{"n":"3"}`)
	// Another process writes between a's read and a's write.
	a.read(conv)
	b.read(conv)
	b.write(conv, pid, `{"n":"4"}`)
	a.write(conv, pid, `{"n":"5"}`)
	// A write with no read before it.
	b.write(conv, pid, `{"n":"6"}`)

	got := srv.Counts()
	want := sim.Counts{
		TokenRequests: 2, TokensIssued: 2, APIRequests: 11, Reads: 5, Writes: 6,
		StaleWrites: 2, LostUpdates: 2, BlindWrites: 1,
	}
	if got != want {
		t.Fatalf("counts\n got %+v\nwant %+v", got, want)
	}
	writes := srv.Writes()
	stale := []bool{false, false, true, false, true, false}
	for i, w := range writes {
		if w.Stale != stale[i] || w.Version != uint64(i+1) {
			t.Errorf("write %d: %+v", i, w)
		}
	}
	if !writes[5].Blind || writes[2].ReadVersion != 1 {
		t.Errorf("write log %+v", writes)
	}
}

func TestOverlappingWrites(t *testing.T) {
	t.Parallel()
	o := opts()
	o.Faults.Latency = 300 * time.Millisecond
	srv, anon := start(t, o)
	conv, pid := registerOne(t, srv)
	a := anon.login()

	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if s := a.write(conv, pid, `{"n":"`+string(rune('0'+i))+`"}`); s != 202 {
				t.Errorf("write status %d", s)
			}
		})
	}
	wg.Wait()
	got := srv.Counts()
	if got.OverlappingWrites != 1 || got.LostUpdates != 1 || got.BlindWrites != 2 {
		t.Fatalf("counts %+v", got)
	}
	cs, _ := srv.Conversation(conv)
	if cs.Participants[0].InFlight != 0 || cs.Participants[0].Version != 2 {
		t.Errorf("participant %+v", cs.Participants[0])
	}
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	o := opts()
	o.ReadinessDelay = time.Hour
	srv, anon := start(t, o)
	api := anon.login()

	// Register with an explicit readiness delay; an omitted one would be an hour.
	r := anon.do("POST", "/admin/conversations", `{"id":"conv-1","readiness_delay":"0s",
		"participants":[{"id":"cust","purpose":"customer","attributes":{"ivr_lang":"en"}},
		{"id":"late","purpose":"agent","readiness_delay":"1h"}]}`)
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := anon.do("POST", "/admin/conversations", `{"id":"conv-1"}`); r.status != 409 {
		t.Errorf("duplicate: %d", r.status)
	}
	if r := anon.do("POST", "/admin/conversations", `{"idd":"x"}`); r.status != 400 {
		t.Errorf("unknown field: %d", r.status)
	}
	if r := anon.do("POST", "/admin/conversations", `{"id":"slow"}`); r.status != 201 {
		t.Errorf("register slow: %d", r.status)
	}
	if s := api.read("slow"); s != 404 {
		t.Errorf("default readiness delay not applied: %d", s)
	}

	// The participant still inside its own delay is hidden from the API.
	var wc struct {
		Participants []struct {
			ID, State, EndTime string
			Attributes         map[string]string
		}
		EndTime string
	}
	r = api.do("GET", "/api/v2/conversations/conv-1", "")
	mustJSON(t, r.body, &wc)
	if len(wc.Participants) != 1 || wc.Participants[0].Attributes["ivr_lang"] != "en" {
		t.Fatalf("conversation %s", r.body)
	}
	if s := api.write("conv-1", "late", `{"a":"b"}`); s != 404 {
		t.Errorf("write to a participant not ready: %d", s)
	}

	// Add a participant, end it, end the conversation.
	r = anon.do("POST", "/admin/conversations/conv-1/participants",
		`{"id":"agent","purpose":"agent"}`)
	if r.status != 201 {
		t.Fatalf("add participant: %d %s", r.status, r.body)
	}
	r = anon.do("POST", "/admin/conversations/conv-1/participants/agent/end", "")
	if r.status != 200 || !strings.Contains(r.body, `"disconnected"`) {
		t.Errorf("end participant: %d %s", r.status, r.body)
	}
	if r := anon.do("POST", "/admin/conversations/conv-1/end", ""); r.status != 200 {
		t.Errorf("end conversation: %d %s", r.status, r.body)
	}
	r = api.do("GET", "/api/v2/conversations/conv-1", "")
	mustJSON(t, r.body, &wc)
	if wc.EndTime == "" || wc.Participants[0].State != "disconnected" ||
		wc.Participants[0].EndTime == "" {
		t.Errorf("ended conversation %s", r.body)
	}
	if s := api.write("conv-1", "cust", `{"a":"b"}`); s != 202 {
		t.Errorf("write after end: %d", s)
	}

	// Faults: PUT replaces, PATCH updates, bad values are refused.
	r = anon.do("PUT", "/admin/faults", `{"latency":"5ms","error_rate":0.5}`)
	if r.status != 200 {
		t.Fatalf("put faults: %d %s", r.status, r.body)
	}
	anon.do("PATCH", "/admin/faults", `{"rate_limit_per_minute":100}`)
	want := sim.Faults{Latency: 5 * time.Millisecond, ErrorRate: 0.5, RateLimitPerMinute: 100}
	if got := srv.Faults(); got != want {
		t.Errorf("faults %+v, want %+v", got, want)
	}
	if r := anon.do("PUT", "/admin/faults", `{"hang_rate":2}`); r.status != 400 {
		t.Errorf("bad fault accepted: %d", r.status)
	}
	if r := anon.do("PUT", "/admin/faults", `{"latency":5}`); r.status != 400 {
		t.Errorf("numeric duration accepted: %d", r.status)
	}

	// State and counts.
	var st sim.State
	mustJSON(t, anon.do("GET", "/admin/state", "").body, &st)
	if len(st.Conversations) != 2 || len(st.Writes) != 1 || !st.Writes[0].AfterEnd ||
		st.Counts.WritesAfterEnd != 1 {
		t.Errorf("state %+v", st)
	}
	mustJSON(t, anon.do("GET", "/admin/state?writes=false", "").body, &st)
	if st.Writes != nil {
		t.Errorf("write log included: %+v", st.Writes)
	}

	// Revoke: the old token is refused. Reset: conversations and faults go.
	if r := anon.do("POST", "/admin/tokens/revoke", ""); !strings.Contains(r.body, `"revoked": 1`) {
		t.Errorf("revoke: %s", r.body)
	}
	if r := api.do("GET", "/api/v2/conversations/conv-1", ""); r.status != 401 ||
		!strings.Contains(r.body, "bad.credentials") {
		t.Errorf("revoked token: %d %s", r.status, r.body)
	}
	if r := anon.do("POST", "/admin/reset", ""); r.status != 204 {
		t.Errorf("reset: %d", r.status)
	}
	if _, ok := srv.Conversation("conv-1"); ok || srv.Faults() != (sim.Faults{}) ||
		srv.Counts() != (sim.Counts{}) {
		t.Error("reset kept state")
	}
	if r := anon.do("GET", "/admin/conversations/conv-1", ""); r.status != 404 {
		t.Errorf("conversation after reset: %d", r.status)
	}
}

func TestAPIAnswers(t *testing.T) {
	t.Parallel()
	o := opts()
	o.NotReadyStyle = sim.NotReady400
	srv, anon := start(t, o)
	cs, err := srv.RegisterConversation(sim.ConversationSpec{ID: "c", ReadinessDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	api := anon.login()

	r := api.do("GET", "/api/v2/conversations/"+cs.ID, "")
	if r.status != 400 || r.body != `{"errors":[{"code":"invalid_argument",`+
		`"message":"conversation 'c' not found"}]}` {
		t.Errorf("400 style: %d %s", r.status, r.body)
	}
	if r := anon.do("GET", "/api/v2/conversations/c", ""); r.status != 401 ||
		!strings.Contains(r.body, "authentication.required") {
		t.Errorf("no token: %d %s", r.status, r.body)
	}
	if r := api.do("PATCH", "/api/v2/conversations/faxes/c/participants/p/attributes",
		`{"attributes":{}}`); r.status != 404 {
		t.Errorf("unknown media: %d", r.status)
	}
	if r := api.do("PATCH", "/api/v2/conversations/c/participants/p/attributes",
		`{"attributes":{"n":1}}`); r.status != 400 || !strings.Contains(r.body, "bad.request") {
		t.Errorf("number value: %d %s", r.status, r.body)
	}
	if r := api.do("GET", "/api/v2/users/me", ""); r.status != 404 ||
		r.header.Get("Inin-Correlation-Id") == "" {
		t.Errorf("unknown path: %d %v", r.status, r.header)
	}

	// Token endpoint refusals use the OAuth shape.
	r = anon.do("POST", "/oauth/token", "grant_type=password",
		"Content-Type", "application/x-www-form-urlencoded")
	if r.status != 400 || !strings.Contains(r.body, `"error":"unsupported_grant_type"`) {
		t.Errorf("grant: %d %s", r.status, r.body)
	}
	r = anon.do("POST", "/oauth/token", "grant_type=client_credentials",
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", basic("id", "x"))
	if r.status != 401 || !strings.Contains(r.body, `"error_description":"client not found"`) {
		t.Errorf("bad secret: %d %s", r.status, r.body)
	}
	r = anon.do("POST", "/oauth/token",
		"grant_type=client_credentials&client_id=id&client_secret=secret",
		"Content-Type", "application/x-www-form-urlencoded")
	if r.status != 200 {
		t.Errorf("credentials in the form: %d %s", r.status, r.body)
	}
}

func TestRateLimitFault(t *testing.T) {
	t.Parallel()
	o := opts()
	o.Faults.RateLimitPerMinute = 2
	srv, anon := start(t, o)
	conv, _ := registerOne(t, srv)
	a, b := anon.login(), anon.login()
	a.read(conv)
	a.read(conv)
	r := a.do("GET", "/api/v2/conversations/"+conv, "")
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("third call: %d %v", r.status, r.header)
	}
	var body struct {
		Message, Code string
		Limit         struct{ Value int }
	}
	mustJSON(t, r.body, &body)
	if body.Code != "too.many.requests.retry.after" || body.Limit.Value != 2 ||
		!strings.Contains(body.Message, "["+r.header.Get("Retry-After")+"] seconds") {
		t.Errorf("429 body %s", r.body)
	}
	if s := b.read(conv); s != 200 {
		t.Errorf("another token is limited separately: %d", s)
	}
}

// An outage set to one status answers that status, with Genesys's code for it, every
// time; without a status the errors are 500 and 503.
func TestErrorStatusFault(t *testing.T) {
	t.Parallel()
	srv, anon := start(t, opts())
	conv, _ := registerOne(t, srv)
	api := anon.login()
	r := anon.do("PATCH", "/admin/faults", `{"error_rate":1,"error_status":503}`)
	if r.status != 200 {
		t.Fatalf("set faults: %d %s", r.status, r.body)
	}
	for range 20 {
		r := api.do("GET", "/api/v2/conversations/"+conv, "")
		if r.status != 503 || !strings.Contains(r.body, "service.unavailable") {
			t.Fatalf("with error_status 503: %d %s", r.status, r.body)
		}
	}
	anon.do("PATCH", "/admin/faults", `{"error_status":0}`)
	seen := map[int]bool{}
	for range 60 {
		seen[api.do("GET", "/api/v2/conversations/"+conv, "").status] = true
	}
	if len(seen) != 2 || !seen[500] || !seen[503] {
		t.Errorf("without error_status: statuses %v, want 500 and 503", seen)
	}
	if r := anon.do("PATCH", "/admin/faults", `{"error_status":404}`); r.status != 400 ||
		!strings.Contains(r.body, "error_status") {
		t.Errorf("error_status 404 accepted: %d %s", r.status, r.body)
	}
}

func TestAutoCreate(t *testing.T) {
	t.Parallel()
	o := opts()
	o.AutoCreate = true
	srv, anon := start(t, o)
	api := anon.login()
	if s := api.write("new-conv", "agent-1", `{"a":"b"}`); s != 202 {
		t.Fatalf("write to a new conversation: %d", s)
	}
	cs, ok := srv.Conversation("new-conv")
	if !ok || !cs.AutoCreated || len(cs.Participants) != 2 ||
		cs.Participants[0].Purpose != "customer" || cs.Participants[1].ID != "agent-1" ||
		cs.Participants[1].Purpose != "agent" || cs.Participants[1].Attributes["a"] != "b" {
		t.Fatalf("auto-created %+v", cs)
	}
}

func TestPerMediaAnswerCarriesAttributes(t *testing.T) {
	t.Parallel()
	srv, anon := start(t, opts())
	conv, pid := registerOne(t, srv)
	api := anon.login()
	r := api.do("PATCH", "/api/v2/conversations/calls/"+conv+"/participants/"+pid+
		"/attributes", `{"attributes":{"a":"b"}}`)
	if r.status != 200 || r.body != `{"attributes":{"a":"b"}}` {
		t.Errorf("per-media answer %d %s", r.status, r.body)
	}
}

// TestServeReleasesHungRequestsOnShutdown: cancelling Serve's context ends held requests
// with a 503 and returns promptly.
func TestServeReleasesHungRequestsOnShutdown(t *testing.T) {
	t.Parallel()
	o := opts()
	o.Faults.HangRate = 1
	srv := sim.New(o, zap.NewNop())
	conv, _ := registerOne(t, srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &caller{t: t, base: "http://" + ln.Addr().String(), hc: &http.Client{Transport: tr}}
	api := c.login()
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", api.base+"/api/v2/conversations/"+conv, nil)
		req.Header.Set("Authorization", "Bearer "+api.token)
		resp, err := api.hc.Do(req)
		if err != nil {
			status <- 0
			return
		}
		_ = resp.Body.Close()
		status <- resp.StatusCode
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Counts().Hung == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
	if s := <-status; s != 503 {
		t.Errorf("hung request got %d, want 503", s)
	}
}

func TestRunRefusesABusyAddress(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	err = sim.New(sim.Options{}, nil).Run(context.Background(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("run on a busy address: %v", err)
	}
}
