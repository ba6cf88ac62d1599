package genesys_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/genesys"
)

func TestGetConversationDecodesFixture(t *testing.T) {
	t.Parallel()
	var gotAuth, gotPath string
	fs := newFixtureServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
		fixtureAnswer(t, http.StatusOK, "conversation.json")(w, r)
	})
	c, _ := testClient(t, fs.URL, nil)

	conv, err := c.GetConversation(ctxT(t), fixtureConversation)
	if err != nil {
		t.Fatalf("get conversation: %v", err)
	}
	if gotAuth != "Bearer "+fixtureToken {
		t.Errorf("authorization header %q", gotAuth)
	}
	if want := "/api/v2/conversations/" + fixtureConversation; gotPath != want {
		t.Errorf("path %q, want %q", gotPath, want)
	}
	if conv.ID != fixtureConversation || len(conv.Participants) != 2 {
		t.Fatalf("conversation %+v", conv)
	}
	want := time.Date(2026, 12, 3, 15, 59, 40, 0, time.UTC)
	if !conv.StartTime.Equal(want) || !conv.EndTime.IsZero() {
		t.Errorf("times %v %v", conv.StartTime, conv.EndTime)
	}
	cust, ok := conv.Participant(fixtureCustomer)
	if !ok || cust.Purpose != "customer" || cust.State != "connected" || cust.Ended() {
		t.Fatalf("customer %+v", cust)
	}
	if cust.Attributes["ivr_lang"] != "en-US" {
		t.Errorf("attributes %v", cust.Attributes)
	}
	if v, ok := cust.Attributes["cust_tier"]; !ok || v != "" {
		t.Errorf("empty attribute lost: %v", cust.Attributes)
	}
	agent, ok := conv.Participant(fixtureAgent)
	if !ok || agent.Attributes == nil || len(agent.Attributes) != 0 {
		t.Fatalf("agent %+v", agent)
	}
	if _, ok := conv.Participant("nobody"); ok {
		t.Error("found a participant that does not exist")
	}
}

func TestParticipantStateFromSessions(t *testing.T) {
	t.Parallel()
	body := `{"id":"c1","participants":[
		{"id":"p1","purpose":"customer","calls":[{"state":"disconnected"}]},
		{"id":"p2","purpose":"agent","chats":[{"state":"terminated"},{"state":"connected"}]},
		{"id":"p3","purpose":"agent","endTime":"2026-12-03T16:00:00.000Z"}]}`
	fs := newFixtureServer(t, bodyAnswer(http.StatusOK, body))
	c, _ := testClient(t, fs.URL, nil)
	conv, err := c.GetConversation(ctxT(t), "c1")
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]struct {
		state string
		ended bool
	}{"p1": {"disconnected", true}, "p2": {"connected", false}, "p3": {"", true}} {
		p, _ := conv.Participant(id)
		if p.State != want.state || p.Ended() != want.ended {
			t.Errorf("%s: state %q ended %v, want %q %v", id, p.State, p.Ended(), want.state,
				want.ended)
		}
	}
}

// TestFailureClasses runs the client against one fixture server per failure and checks
// the class, the parsed fields, and how many calls were made.
func TestFailureClasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		api       func(t *testing.T) http.HandlerFunc
		class     genesys.Class
		status    int
		code      string
		corr      string
		retry     time.Duration
		apiHits   int64
		tokenHits int64
	}{
		{
			name:  "404 not.found is not ready",
			api:   fixture(404, "error-404.json"),
			class: genesys.ClassNotReady, status: 404, code: "not.found",
			corr: "8f7e6d5c-4b3a-4291-8e7d-6c5b4a392817", apiHits: 1, tokenHits: 1,
		},
		{
			name:  "400 with a nested not found message is not ready",
			api:   fixture(400, "error-400-seed.json"),
			class: genesys.ClassNotReady, status: 400, code: "invalid_argument",
			apiHits: 1, tokenHits: 1,
		},
		{
			name: "429 takes Retry-After from the header",
			api: func(t *testing.T) http.HandlerFunc {
				return fixtureAnswer(t, 429, "error-429.json", "Retry-After", "7",
					"Inin-Correlation-Id", "from-header")
			},
			class: genesys.ClassRateLimited, status: 429,
			code: "too.many.requests.retry.after", corr: "from-header", retry: 7 * time.Second,
			apiHits: 1, tokenHits: 1,
		},
		{
			name:  "429 without the header reads the seconds in the message",
			api:   fixture(429, "error-429.json"),
			class: genesys.ClassRateLimited, status: 429, code: "too.many.requests.retry.after",
			corr: "2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b", retry: 42 * time.Second,
			apiHits: 1, tokenHits: 1,
		},
		{
			name: "500 is transient",
			api: constAnswer(500,
				`{"message":"boom","code":"internal.server.error","status":500}`),
			class: genesys.ClassTransient, status: 500, code: "internal.server.error",
			apiHits: 1, tokenHits: 1,
		},
		{
			name:  "503 is transient",
			api:   constAnswer(503, `{"message":"down","code":"service.unavailable","status":503}`),
			class: genesys.ClassTransient, status: 503, code: "service.unavailable",
			apiHits: 1, tokenHits: 1,
		},
		{
			name:  "504 is transient",
			api:   constAnswer(504, `{"message":"slow","code":"request.timeout","status":504}`),
			class: genesys.ClassTransient, status: 504, code: "request.timeout",
			apiHits: 1, tokenHits: 1,
		},
		{
			name:  "501 is permanent",
			api:   constAnswer(501, `{"message":"no","code":"not.implemented","status":501}`),
			class: genesys.ClassPermanent, status: 501, apiHits: 1, tokenHits: 1,
			code: "not.implemented",
		},
		{
			name:  "a proxy's HTML 502 is transient",
			api:   constAnswer(502, `<html><body>Bad Gateway</body></html>`),
			class: genesys.ClassTransient, status: 502, apiHits: 1, tokenHits: 1,
		},
		{
			name: "401 twice is auth, after one refresh",
			api: constAnswer(401,
				`{"message":"Invalid login credentials.","code":"bad.credentials","status":401}`),
			class: genesys.ClassAuth, status: 401, code: "bad.credentials",
			apiHits: 2, tokenHits: 2,
		},
		{
			name: "403 is permission",
			api: constAnswer(403, `{"message":"You are missing the following permission(s): `+
				`conversation:communication:view","code":"missing.permissions","status":403}`),
			class: genesys.ClassPermission, status: 403, code: "missing.permissions",
			apiHits: 1, tokenHits: 1,
		},
		{
			name: "400 bad.request is permanent",
			api: constAnswer(400,
				`{"message":"Invalid value","code":"bad.request","status":400}`),
			class: genesys.ClassPermanent, status: 400, code: "bad.request",
			apiHits: 1, tokenHits: 1,
		},
		{
			name:  "409 is permanent",
			api:   constAnswer(409, `{"message":"Conflict","code":"conflict","status":409}`),
			class: genesys.ClassPermanent, status: 409, code: "conflict",
			apiHits: 1, tokenHits: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFixtureServer(t, tc.api(t))
			c, _ := testClient(t, fs.URL, nil)

			_, err := c.GetConversation(ctxT(t), fixtureConversation)
			if got := genesys.Classify(err); got != tc.class {
				t.Fatalf("class %v, want %v (err %v)", got, tc.class, err)
			}
			var apiErr *genesys.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("not an APIError: %v", err)
			}
			if apiErr.Status != tc.status || apiErr.Code != tc.code || apiErr.Login {
				t.Errorf("error %+v", apiErr)
			}
			if tc.corr != "" && apiErr.CorrelationID != tc.corr {
				t.Errorf("correlation id %q, want %q", apiErr.CorrelationID, tc.corr)
			}
			if genesys.RetryAfter(err) != tc.retry {
				t.Errorf("retry after %v, want %v", genesys.RetryAfter(err), tc.retry)
			}
			if fs.apiHits.Load() != tc.apiHits || fs.tokenHits.Load() != tc.tokenHits {
				t.Errorf("api calls %d, token calls %d; want %d, %d", fs.apiHits.Load(),
					fs.tokenHits.Load(), tc.apiHits, tc.tokenHits)
			}
			mustContain(t, err.Error(), fixtureConversation)
		})
	}
}

func fixture(status int, name string) func(*testing.T) http.HandlerFunc {
	return func(t *testing.T) http.HandlerFunc { return fixtureAnswer(t, status, name) }
}

func constAnswer(status int, body string) func(*testing.T) http.HandlerFunc {
	return func(*testing.T) http.HandlerFunc { return bodyAnswer(status, body) }
}

func TestNestedNotFoundMessage(t *testing.T) {
	t.Parallel()
	fs := newFixtureServer(t, fixtureAnswer(t, 400, "error-400-seed.json"))
	c, _ := testClient(t, fs.URL, nil)
	err := c.PatchParticipantAttributes(ctxT(t), "c", "p", "", map[string]string{"a": "b"})
	var apiErr *genesys.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("not an APIError: %v", err)
	}
	mustContain(t, apiErr.Message, "variable 'cust_tier' not found in script definition")
}

func Test401ThenSuccessRetriesOnceWithNewToken(t *testing.T) {
	t.Parallel()
	calls := 0
	fs := newFixtureServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls++ // the client sends one call at a time here
		if calls == 1 {
			bodyAnswer(401, `{"code":"bad.credentials","status":401}`)(w, r)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	c, reg := testClient(t, fs.URL, nil)
	err := c.PatchParticipantAttributes(ctxT(t), "c", "p", "", map[string]string{"a": "b"})
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	if fs.apiHits.Load() != 2 || fs.tokenHits.Load() != 2 {
		t.Errorf("api %d token %d, want 2 and 2", fs.apiHits.Load(), fs.tokenHits.Load())
	}
	if v := counterValue(t, reg, "test_genesys_auth_retries_total", nil); v != 1 {
		t.Errorf("auth retries %v", v)
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	fs := newFixtureServer(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	c, _ := testClient(t, fs.URL, func(cfg *genesys.Config, _ *genesys.Options) {
		cfg.Timeout = 100 * time.Millisecond
	})
	_, err := c.GetConversation(ctxT(t), "c")
	if genesys.Classify(err) != genesys.ClassTransient {
		t.Fatalf("class %v for %v", genesys.Classify(err), err)
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	c, _ := testClient(t, url, nil)
	_, err := c.GetConversation(ctxT(t), "c")
	if genesys.Classify(err) != genesys.ClassTransient {
		t.Fatalf("class %v for %v", genesys.Classify(err), err)
	}
}

func TestTruncatedBodyIsTransient(t *testing.T) {
	t.Parallel()
	fs := newFixtureServer(t, bodyAnswer(200, `{"id":"c","participants":[{"id":`))
	c, _ := testClient(t, fs.URL, nil)
	_, err := c.GetConversation(ctxT(t), "c")
	if genesys.Classify(err) != genesys.ClassTransient {
		t.Fatalf("class %v for %v", genesys.Classify(err), err)
	}
}

func TestLoginRefusalIsAuth(t *testing.T) {
	t.Parallel()
	apiCalls := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		bodyAnswer(401, `{"error":"invalid_client","description":"client not found",`+
			`"error_description":"client not found"}`, "Inin-Correlation-Id", "login-corr")(w, r)
	})
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { apiCalls++ })
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	c, reg := testClient(t, ts.URL, nil)

	_, err := c.GetConversation(ctxT(t), "c")
	if genesys.Classify(err) != genesys.ClassAuth {
		t.Fatalf("class %v for %v", genesys.Classify(err), err)
	}
	var apiErr *genesys.APIError
	if !errors.As(err, &apiErr) || !apiErr.Login || apiErr.Code != "invalid_client" ||
		apiErr.Message != "client not found" || apiErr.CorrelationID != "login-corr" {
		t.Fatalf("error %#v", apiErr)
	}
	if apiCalls != 0 {
		t.Errorf("%d API calls without a token", apiCalls)
	}
	if v := counterValue(t, reg, "test_genesys_token_fetch_failures_total", nil); v != 1 {
		t.Errorf("token failures %v", v)
	}
}

func TestLoginOutageIsTransient(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "unavailable")
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	c, _ := testClient(t, ts.URL, nil)
	_, err := c.GetConversation(ctxT(t), "c")
	if genesys.Classify(err) != genesys.ClassTransient {
		t.Fatalf("class %v for %v", genesys.Classify(err), err)
	}
}

func TestAttributeChecksRefuseBeforeCalling(t *testing.T) {
	t.Parallel()
	fs := newFixtureServer(t, bodyAnswer(202, ""))
	c, _ := testClient(t, fs.URL, func(cfg *genesys.Config, _ *genesys.Options) {
		cfg.MaxValueLength, cfg.MaxAttributes = 5, 2
	})
	cases := []struct {
		name      string
		conv, par string
		attrs     map[string]string
		attribute string
		reason    string
	}{
		{"empty name", "c", "p", map[string]string{"": "x"}, "", "the name is empty"},
		{"long value", "c", "p", map[string]string{"ok": "12345", "tier": "123456"}, "tier",
			"6 characters, the limit is 5"},
		{"bad utf-8", "c", "p", map[string]string{"a": "\xff"}, "a", "not valid UTF-8"},
		{"too many", "c", "p", map[string]string{"a": "1", "b": "2", "c": "3"}, "",
			"3 attributes, the limit is 2"},
		{"no conversation", "", "p", map[string]string{"a": "1"}, "", "conversation id"},
		{"no participant", "c", "", map[string]string{"a": "1"}, "", "participant id"},
	}
	for _, tc := range cases {
		err := c.PatchParticipantAttributes(ctxT(t), tc.conv, tc.par, "", tc.attrs)
		if genesys.Classify(err) != genesys.ClassPermanent {
			t.Errorf("%s: class %v for %v", tc.name, genesys.Classify(err), err)
			continue
		}
		var inv *genesys.InvalidError
		if !errors.As(err, &inv) || inv.Attribute != tc.attribute ||
			!strings.Contains(inv.Reason, tc.reason) {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
	// Five characters, not five bytes.
	if err := c.PatchParticipantAttributes(ctxT(t), "c", "p", "",
		map[string]string{"a": "héllo"}); err != nil {
		t.Errorf("five characters refused: %v", err)
	}
	if err := c.PatchParticipantAttributes(ctxT(t), "c", "p", "", nil); err != nil {
		t.Errorf("empty write: %v", err)
	}
	if fs.apiHits.Load() != 1 {
		t.Errorf("%d API calls, want only the valid one", fs.apiHits.Load())
	}
}

func TestPatchPaths(t *testing.T) {
	t.Parallel()
	var paths []string
	var bodies []string
	fs := newFixtureServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		paths, bodies = append(paths, r.Method+" "+r.URL.Path), append(bodies, string(b))
		w.WriteHeader(http.StatusAccepted)
	})
	generic, _ := testClient(t, fs.URL, nil)
	perMedia, _ := testClient(t, fs.URL, func(cfg *genesys.Config, _ *genesys.Options) {
		cfg.PerMediaPath = true
	})
	attrs := map[string]string{"cust_tier": "gold"}
	ctx := ctxT(t)
	for _, step := range []struct {
		c     *genesys.Client
		media string
	}{{generic, "VOICE"}, {perMedia, "VOICE"}, {perMedia, "message"}, {perMedia, ""},
		{perMedia, "SMS"}} {
		if err := step.c.PatchParticipantAttributes(ctx, "c 1", "p/1", step.media,
			attrs); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"PATCH /api/v2/conversations/c 1/participants/p/1/attributes",
		"PATCH /api/v2/conversations/calls/c 1/participants/p/1/attributes",
		"PATCH /api/v2/conversations/messages/c 1/participants/p/1/attributes",
		"PATCH /api/v2/conversations/c 1/participants/p/1/attributes",
		"PATCH /api/v2/conversations/c 1/participants/p/1/attributes",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("paths:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	if bodies[0] != `{"attributes":{"cust_tier":"gold"}}` {
		t.Errorf("body %s", bodies[0])
	}
}
