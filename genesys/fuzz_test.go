package genesys

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseError feeds the error parser whatever a server, a proxy in front of it or a
// broken connection could answer. Whatever the answer, the parser returns an error that
// keeps the status, classes it the way the status says, never asks for a negative wait,
// and keeps a body that is not JSON short.
func FuzzParseError(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("..", "internal", "testsupport", "fixtures",
		"genesys", "error-*.json"))
	for _, name := range fixtures {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(400, "", "", body, false)
	}
	f.Add(429, "42", "corr-1", []byte(`{"message":"Retry the request in [42] seconds",`+
		`"code":"too.many.requests.retry.after","status":429}`), false)
	f.Add(429, "Wed, 21 Oct 2026 07:28:00 GMT", "", []byte(`{"code":"x"}`), false)
	f.Add(401, "", "", []byte(`{"error":"invalid_client","error_description":"bad"}`), true)
	f.Add(503, "-5", "", []byte("<html>Service Unavailable</html>"), false)
	f.Add(429, "99999999999", "", []byte(`{"message":"Retry in [9999999999] seconds"}`), false)
	f.Add(404, "", "", []byte(`{"errors":[{"code":"a","message":"Not Found"},{"message":1}]}`),
		false)
	f.Add(500, "", "", []byte("\xff\xfe not utf-8 "+strings.Repeat("é", 150)), false)
	f.Fuzz(func(t *testing.T, status int, retryAfter, correlation string, body []byte,
		login bool) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("Inin-Correlation-Id", correlation)
		e := parseError(status, h, body, login)
		if e == nil || e.Status != status || e.Login != login {
			t.Fatalf("parseError(%d) = %+v", status, e)
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("wait %v, outside 0 to %v, from Retry-After %q and message %q",
				e.RetryAfter, maxRetryAfter, retryAfter, e.Message)
		}
		if !strings.HasPrefix(e.Error(), "status ") {
			t.Fatalf("error text %q", e.Error())
		}
		if n, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil &&
			n >= int(maxRetryAfter/time.Second) && e.RetryAfter != maxRetryAfter {
			t.Fatalf("Retry-After %q read as %v", retryAfter, e.RetryAfter)
		}
		checkClass(t, e)
		var eb errorBody
		if json.Unmarshal(body, &eb) != nil && len(e.Message) > maxErrorText+len("...") {
			t.Fatalf("a body that is not JSON kept whole: %d bytes", len(e.Message))
		}
	})
}

// checkClass holds the classes to what the status says, whatever the body.
func checkClass(t *testing.T, e *APIError) {
	t.Helper()
	c := Classify(e)
	switch s := e.Status; {
	case s == http.StatusTooManyRequests:
		if c != ClassRateLimited {
			t.Fatalf("429 classed %v", c)
		}
	case s >= 500 && s != http.StatusNotImplemented:
		if c != ClassTransient {
			t.Fatalf("%d classed %v", s, c)
		}
	case s == http.StatusForbidden && !e.Login:
		if c != ClassPermission {
			t.Fatalf("403 classed %v", c)
		}
	case c == ClassNone || c.String() == "unknown":
		t.Fatalf("%d classed %v", s, c)
	}
}
