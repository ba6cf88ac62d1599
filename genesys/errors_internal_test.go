package genesys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseErrorShapes(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
	e := parseError(503, h, []byte("<html>"+strings.Repeat("x", 500)+"</html>"), false)
	if e.RetryAfter < 80*time.Second || e.RetryAfter > 90*time.Second {
		t.Errorf("retry after from a date: %v", e.RetryAfter)
	}
	if len(e.Message) > maxErrorText+3 || !strings.HasPrefix(e.Message, "<html>") {
		t.Errorf("plain text message %q", e.Message)
	}
	if e := parseError(502, http.Header{}, nil, false); e.Message != "Bad Gateway" {
		t.Errorf("empty body message %q", e.Message)
	}
	oauth := `{"error":"invalid_client","description":"client not found"}`
	e = parseError(400, http.Header{}, []byte(oauth), true)
	if e.Code != "invalid_client" || e.Message != "client not found" ||
		e.class() != ClassAuth {
		t.Errorf("oauth shape %+v", e)
	}
	if got := e.Error(); got != "status 400 invalid_client: client not found" {
		t.Errorf("error text %q", got)
	}
}

func TestClassifyForeignErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want Class
	}{
		{nil, ClassNone},
		{context.DeadlineExceeded, ClassTransient},
		{fmt.Errorf("wrapped: %w", context.Canceled), ClassTransient},
		{io.ErrUnexpectedEOF, ClassTransient},
		{errors.New("something else"), ClassPermanent},
		{&APIError{Status: 408}, ClassTransient},
		{&APIError{Status: 400, Message: "Participant Not Found"}, ClassNotReady},
		{&APIError{Status: 429, Login: true}, ClassRateLimited},
		{&APIError{Status: 503, Login: true}, ClassTransient},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if Class(99).String() != "unknown" || ClassNotReady.String() != "not_ready" {
		t.Error("class names")
	}
}
