package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/adminapi"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/ops"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).Start.func1"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	)
}

const token = "test-admin-token-0123456789"

// fixture is the API over an embedded JetStream holding three dead letters.
type fixture struct {
	url  string
	js   jetstream.JetStream
	cfg  config.Config
	seqs []uint64
}

func setup(t *testing.T) *fixture {
	t.Helper()
	n := testsupport.StartNATS(t)
	_, js := n.Connect(t)
	cfg := config.Default()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := broker.EnsureEventStream(ctx, js, cfg.Stream); err != nil {
		t.Fatal(err)
	}
	if _, err := broker.EnsureDeadLetterStream(ctx, js, cfg.Worker.DeadLetter, 1); err != nil {
		t.Fatal(err)
	}
	h, err := adminapi.New(adminapi.Options{
		Ops: ops.New(ops.Options{JS: js, Stream: cfg.Stream,
			DeadLetter: cfg.Worker.DeadLetter, Consumer: cfg.Worker.Consumer}),
		Token: token, ReplayRate: 1000, Logger: zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	f := &fixture{url: ts.URL + adminapi.Prefix, js: js, cfg: cfg}
	f.seqs = []uint64{
		f.storeDead(t, event.ReasonPermanent, "e1", "conv-1"),
		f.storeDead(t, event.ReasonNotReady, "e2", "conv-1"),
		f.storeDead(t, event.ReasonPermanent, "e3", "conv-2"),
	}
	return f
}

func (f *fixture) storeDead(t *testing.T, reason, id, conv string) uint64 {
	t.Helper()
	now := time.Now().UTC()
	entry := &event.DeadLetter{
		Event: &event.Event{ID: id, Type: "user.start", ConversationID: conv,
			EventTime: now, ReceivedAt: now, Source: event.SourceFlat,
			Fields: map[string]string{"ani": "tel:+14155550123"}},
		Reason: reason, Summary: "refused", Attempts: 1, FirstAttempt: now, LastAttempt: now,
		Error: event.ErrorInfo{Class: "permanent", Status: 400, Code: "bad.request"},
	}
	data, err := json.Marshal(entry)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: event.DeadLetterSubject(f.cfg.Worker.DeadLetter.SubjectPrefix,
		reason, conv), Data: data}
	ack, err := f.js.PublishMsg(context.Background(), msg, jetstream.WithMsgID("dead:"+id))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// do sends a request with the token (or auth, when not empty) and decodes the answer.
func (f *fixture) do(t *testing.T, method, path, auth, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth == "" {
		auth = "Bearer " + token
	}
	if auth != "none" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s answered %d: %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

type apiError struct {
	Error struct {
		Code, Message string
	}
}

func TestRefusesWithoutTheToken(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, auth := range []string{"none", "Bearer wrong-token-0123456789", "Bearer",
		"Basic " + token, "Bearer " + token + "x", "Bearer " + token[:10]} {
		var e apiError
		if code := f.do(t, "GET", "dead-letters", auth, "", &e); code != http.StatusUnauthorized ||
			e.Error.Code != "unauthorized" {
			t.Errorf("%q: %d %+v", auth, code, e)
		}
	}
	var e apiError
	code := f.do(t, "DELETE", "dead-letters/1?access_token="+token, "none", "", &e)
	if code != http.StatusUnauthorized {
		t.Errorf("token in the URL: %d", code)
	}
	if _, err := adminapi.New(adminapi.Options{}); err == nil {
		t.Error("an API without a token was built")
	}
}

func TestListAndShow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var page ops.Page
	if code := f.do(t, "GET", "dead-letters", "", "", &page); code != 200 ||
		len(page.Entries) != 3 {
		t.Fatalf("list: %d %+v", code, page)
	}
	code := f.do(t, "GET", "dead-letters?reason=permanent&conversation_id=conv-2", "", "", &page)
	if code != 200 || len(page.Entries) != 1 || page.Entries[0].Sequence != f.seqs[2] {
		t.Fatalf("filtered list: %d %+v", code, page)
	}
	code = f.do(t, "GET", "dead-letters?limit=2", "", "", &page)
	if code != 200 || len(page.Entries) != 2 || page.Next != f.seqs[1] {
		t.Fatalf("first page: %d %+v", code, page)
	}
	var second ops.Page
	code = f.do(t, "GET", "dead-letters?after="+strconv.FormatUint(page.Next, 10), "", "",
		&second)
	if code != 200 || len(second.Entries) != 1 || second.Next != 0 {
		t.Fatalf("second page: %d %+v", code, second)
	}
	since := url(time.Now().Add(time.Hour))
	code = f.do(t, "GET", "dead-letters?since="+since, "", "", &page)
	if code != 200 || len(page.Entries) != 0 {
		t.Fatalf("list since an hour ahead: %d %+v", code, page)
	}

	var d ops.Detail
	seq := strconv.FormatUint(f.seqs[0], 10)
	if code := f.do(t, "GET", "dead-letters/"+seq, "", "", &d); code != 200 ||
		d.EventID != "e1" || d.DeadLetter.Event.Fields["ani"] != "**************23" {
		t.Fatalf("show: %d %+v", code, d)
	}
	if code := f.do(t, "GET", "dead-letters/"+seq+"?reveal=true", "", "", &d); code != 200 ||
		d.DeadLetter.Event.Fields["ani"] != "tel:+14155550123" {
		t.Fatalf("show revealed: %d %+v", code, d)
	}
	var e apiError
	if code := f.do(t, "GET", "dead-letters/999", "", "", &e); code != 404 ||
		e.Error.Code != "not_found" {
		t.Fatalf("show missing: %d %+v", code, e)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "dead-letters?reason=unheard_of", ""},
		{"GET", "dead-letters?since=yesterday", ""},
		{"GET", "dead-letters?limit=5000", ""},
		{"GET", "dead-letters?conversation_id=a.b", ""},
		{"GET", "dead-letters/abc", ""},
		{"POST", "dead-letters/replay", `{}`},
		{"POST", "dead-letters/replay", `{"reason": "permanent", "colour": "blue"}`},
		{"POST", "dead-letters/replay", `not json`},
		{"POST", "dead-letters/replay", `{"since": "2026-03-02T00:00:00Z",
			"until": "2026-03-01T00:00:00Z"}`},
	} {
		var e apiError
		code := f.do(t, tc.method, tc.path, "", tc.body, &e)
		if code != http.StatusBadRequest || e.Error.Code != "bad_request" || e.Error.Message == "" {
			t.Errorf("%s %s %s: %d %+v", tc.method, tc.path, tc.body, code, e)
		}
	}
	var e apiError
	if code := f.do(t, "GET", "nothing-here", "", "", &e); code != 404 ||
		e.Error.Code != "not_found" {
		t.Errorf("unknown route: %d %+v", code, e)
	}
}

func TestReplayAndDelete(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var res ops.Result
	code := f.do(t, "POST", "dead-letters/replay", "", `{"reason": "permanent", "dry_run": true}`,
		&res)
	if code != 200 || !res.DryRun || res.Matched != 2 || eventCount(t, f) != 0 {
		t.Fatalf("dry run: %d %+v", code, res)
	}
	body := `{"sequences": [` + strconv.FormatUint(f.seqs[0], 10) + `, 999]}`
	code = f.do(t, "POST", "dead-letters/replay", "", body, &res)
	if code != 200 || res.Replayed != 1 || res.Deleted != 1 || !res.Complete ||
		len(res.NotFound) != 1 || eventCount(t, f) != 1 {
		t.Fatalf("replay by sequence: %d %+v", code, res)
	}

	seq := strconv.FormatUint(f.seqs[1], 10)
	if code := f.do(t, "DELETE", "dead-letters/"+seq, "", "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	var e apiError
	if code := f.do(t, "DELETE", "dead-letters/"+seq, "", "", &e); code != 404 ||
		e.Error.Code != "not_found" {
		t.Fatalf("delete again: %d %+v", code, e)
	}

	code = f.do(t, "POST", "dead-letters/replay", "", `{"all": true}`, &res)
	if code != 200 || res.Replayed != 1 || eventCount(t, f) != 2 {
		t.Fatalf("replay all: %d %+v", code, res)
	}
	var page ops.Page
	if code := f.do(t, "GET", "dead-letters", "", "", &page); code != 200 ||
		len(page.Entries) != 0 {
		t.Fatalf("left: %d %+v", code, page)
	}
}

func eventCount(t *testing.T, f *fixture) int {
	t.Helper()
	return len(testsupport.StreamMessages(t, f.js, f.cfg.Stream.Name))
}

func url(t time.Time) string {
	return strings.ReplaceAll(t.UTC().Format(time.RFC3339), "+", "%2B")
}
