package lookup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scriptsync/scriptsync/config"
)

// maxHTTPBody caps a record's response; a larger one is bad data, not a record.
const maxHTTPBody = 1 << 20

// httpStore GETs one URL per key and reads a JSON object back.
type httpStore struct {
	client    *http.Client
	transport *http.Transport
	// urlParts is the URL template split around {{key}}: the key is inserted between
	// each part.
	urlParts []string
	auth     string
	want     fieldSet
}

func newHTTPStore(cfg config.LookupHTTP, want fieldSet) (*httpStore, error) {
	parts, err := splitURLTemplate(cfg.URL)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	s := &httpStore{
		client:    &http.Client{Transport: tr, Timeout: cfg.Timeout},
		transport: tr,
		urlParts:  parts,
		want:      want,
	}
	if cfg.BearerToken != "" {
		s.auth = "Bearer " + cfg.BearerToken
	}
	return s, nil
}

// splitURLTemplate checks that the URL template names only {{key}}, at least once, and
// that it is an http(s) URL whatever the key. Errors do not quote the URL, which may hold
// credentials.
func splitURLTemplate(src string) ([]string, error) {
	raw, err := parseTemplate(src)
	if err != nil {
		return nil, fmt.Errorf("lookup.http.url: %w", err)
	}
	parts := []string{""}
	for _, r := range raw {
		switch {
		case r.ph == nil:
			parts[len(parts)-1] += r.lit
		case r.ph.name == "key" && len(r.ph.filters) == 0:
			parts = append(parts, "")
		default:
			return nil, fmt.Errorf("lookup.http.url: only {{key}} may appear; build the key " +
				"with lookup.keys")
		}
	}
	if len(parts) < 2 {
		return nil, fmt.Errorf("lookup.http.url: must contain {{key}}")
	}
	u, err := url.Parse(strings.Join(parts, "key"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("lookup.http.url: not an http(s) URL")
	}
	return parts, nil
}

func (s *httpStore) fetch(ctx context.Context, keys []string) (map[string]string, int,
	error) {
	for i, k := range keys {
		rec, err := s.get(ctx, k)
		if err != nil {
			return nil, i, err
		}
		if rec != nil {
			return rec, i, nil
		}
	}
	return nil, -1, nil
}

// get fetches one key: a record, nil for no record, or an error. Errors never quote the
// URL, which holds the key.
func (s *httpStore) get(ctx context.Context, key string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.Join(s.urlParts, key), nil)
	if err != nil {
		return nil, &badRecordError{reason: "key does not make a valid URL"}
	}
	req.Header.Set("Accept", "application/json")
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("get record: %w", err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHTTPBody))
		_ = resp.Body.Close()
	}()
	if err := checkStatus(resp.StatusCode); err != nil || resp.StatusCode != http.StatusOK {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody+1))
	if err != nil {
		return nil, fmt.Errorf("read record: %w", err)
	}
	if len(body) > maxHTTPBody {
		return nil, &badRecordError{reason: fmt.Sprintf("response larger than %d bytes",
			maxHTTPBody)}
	}
	return decodeJSONRecord(body, s.want)
}

// checkStatus sorts statuses: 200 is a record, 404 and 204 are none (nil error, no
// record), a refusal that fixing the store or its settings would cure is transient, and
// any other client error says the request for this key is wrong, which no retry mends.
func checkStatus(code int) error {
	switch {
	case code == http.StatusOK, code == http.StatusNotFound, code == http.StatusNoContent:
		return nil
	case code >= 500, code == http.StatusTooManyRequests, code == http.StatusRequestTimeout,
		code == http.StatusUnauthorized, code == http.StatusForbidden:
		return fmt.Errorf("get record: status %d", code)
	}
	return &badRecordError{reason: fmt.Sprintf("store answered status %d", code)}
}

func (s *httpStore) close() error {
	s.transport.CloseIdleConnections()
	return nil
}
