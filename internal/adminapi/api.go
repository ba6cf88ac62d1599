// Package adminapi serves the operator API for dead letters over HTTP: list, show,
// replay and delete, the same operations as scriptsync dlq, behind a bearer token. Every
// answer is JSON; every error is {"error": {"code": ..., "message": ...}}.
package adminapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/internal/ops"
)

// Prefix is the path every route of the API starts with.
const Prefix = "/admin/v1/"

// DefaultBudget bounds the work of one replay request, below the admin listener's write
// timeout (30s): a replay that needs longer answers with complete false, and the client
// sends the same request again to go on.
const DefaultBudget = 20 * time.Second

// Options are what the API is built from.
type Options struct {
	// Ops runs the operations.
	Ops *ops.Service
	// Token is the bearer token requests must carry; New refuses an empty one.
	Token string
	// ReplayRate caps the events a replay request publishes per second.
	ReplayRate float64
	// Budget bounds one replay request; 0 means DefaultBudget.
	Budget time.Duration
	// Logger receives a line for every change (replay, delete) and every failure.
	Logger *zap.Logger
}

// api is the handler behind Handler.
type api struct {
	ops       *ops.Service
	tokenHash [sha256.Size]byte
	rate      float64
	budget    time.Duration
	log       *zap.Logger
}

// New returns the API's handler for every path under Prefix. It refuses to build one
// without a token: the API is never served open.
func New(o Options) (http.Handler, error) {
	if o.Token == "" {
		return nil, errors.New("admin api: no token")
	}
	a := &api{ops: o.Ops, tokenHash: sha256.Sum256([]byte(o.Token)), rate: o.ReplayRate,
		budget: o.Budget, log: o.Logger}
	if a.budget <= 0 {
		a.budget = DefaultBudget
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"dead-letters", a.list)
	mux.HandleFunc("GET "+Prefix+"dead-letters/{seq}", a.show)
	mux.HandleFunc("POST "+Prefix+"dead-letters/replay", a.replay)
	mux.HandleFunc("DELETE "+Prefix+"dead-letters/{seq}", a.deleteOne)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+
			r.URL.Path)
	})
	return a.authenticate(mux), nil
}

// RequireToken returns next behind the API's token check, for other handlers served
// beside the API: requests without Authorization: Bearer <token> are answered 401 in the
// API's error shape. With an empty token nothing gets through.
func RequireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		next = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "no admin token is set")
		})
	}
	a := &api{tokenHash: sha256.Sum256([]byte(token))}
	return a.authenticate(next)
}

// authenticate lets through only requests carrying the token. Both sides are hashed
// before the constant-time comparison, so neither the token's content nor its length
// shows in the time an answer takes.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !ok || !strings.EqualFold(scheme, "Bearer") ||
			subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scriptsync-admin"`)
			writeError(w, http.StatusUnauthorized, "unauthorized",
				"send the admin token as Authorization: Bearer <token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errorBody is the shape of every error answer.
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
