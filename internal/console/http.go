package console

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
)

// maxBodyBytes bounds a request body.
const maxBodyBytes = 64 << 10

// secure sets the headers every console answer carries: scripts, styles and calls only
// from the listener itself, no framing, no content sniffing, no referrer.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; "+
			"base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// noCache makes browsers ask again for the pages, so a new version shows after an upgrade.
func noCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// jsonBody refuses a POST or DELETE whose Content-Type is not application/json, with 415.
// Together with the token in the Authorization header, which a page of another site
// cannot send, it keeps cross-site forms from changing anything.
func jsonBody(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost || r.Method == http.MethodDelete {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
					"send Content-Type: application/json")
				return
			}
		}
		next(w, r)
	}
}

// errorBody is the admin API's error shape.
type errorBody struct {
	Error errorInfo `json:"error"`
}

type errorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{Error: errorInfo{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// fail answers 503: the streams could not be read or changed.
func (c *Console) fail(w http.ResponseWriter, what string, err error, fields ...zap.Field) {
	c.log.Warn(what+" failed", append(fields, zap.Error(err))...)
	writeError(w, http.StatusServiceUnavailable, "unavailable", what+": "+err.Error())
}

func badRequest(w http.ResponseWriter, err error) {
	writeError(w, http.StatusBadRequest, "bad_request", err.Error())
}

// queryTime reads an RFC 3339 time parameter; zero when absent.
func queryTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time such as "+
			"2026-03-01T10:00:00Z", name)
	}
	return t, nil
}
