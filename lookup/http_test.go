package lookup

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scriptsync/scriptsync/config"
)

// TestHTTPStatuses runs one server per answer and checks how each is classified.
func TestHTTPStatuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status  int
		outcome string
	}{
		{http.StatusNotFound, outcomeNotFound},
		{http.StatusNoContent, outcomeNotFound},
		{http.StatusBadRequest, outcomePermanent},
		{http.StatusUnauthorized, outcomeTransient},
		{http.StatusForbidden, outcomeTransient},
		{http.StatusTooManyRequests, outcomeTransient},
		{http.StatusInternalServerError, outcomeTransient},
		{http.StatusBadGateway, outcomeTransient},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
				_ *http.Request) {
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			svc := httpService(t, srv.URL+"/customers/{{key}}")
			res, err := svc.Lookup(context.Background(), callEvent(adaANI, ""))
			if got := outcomeOf(res, err); got != tt.outcome {
				t.Errorf("status %d: outcome %s (%v), want %s", tt.status, got, err, tt.outcome)
			}
			if err != nil && strings.Contains(err.Error(), phoneDigit) {
				t.Errorf("error %q holds the key", err)
			}
		})
	}
}

// TestHTTPRequest checks what the store is sent: the key's values percent-encoded in the
// path, the bearer token, and no phone number in an error that quotes the request.
func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.RawPath, r.Header.Get("Authorization")
		_, _ = w.Write([]byte(`{"cust_tier":"gold"}`))
	}))
	svc := httpService(t, srv.URL+"/customers/{{key}}?fields=all")
	res, err := svc.Lookup(context.Background(), callEvent(adaANI, ""))
	if err != nil || res.Attributes["cust_tier"] != "gold" {
		t.Fatalf("lookup: %+v, %v", res, err)
	}
	if gotPath != "/customers/customer:%2B14155550123" {
		t.Errorf("path %q, want the + percent-encoded", gotPath)
	}
	if gotAuth != "Bearer "+testToken {
		t.Errorf("Authorization %q", gotAuth)
	}
	srv.Close()
	_, err = svc.Lookup(context.Background(), callEvent(adaANI, ""))
	if !errors.Is(err, ErrTransient) || strings.Contains(err.Error(), phoneDigit) {
		t.Errorf("server gone: %v; want transient without the key", err)
	}
}

func httpService(t *testing.T, url string) *Service {
	t.Helper()
	cfg := baseConfig()
	cfg.Source = config.LookupSourceHTTP
	cfg.Keys = []string{"customer:{{ani}}"}
	cfg.HTTP.URL = url
	cfg.HTTP.BearerToken = testToken
	svc, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}
