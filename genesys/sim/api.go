package sim

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits on request bodies, far above anything a real call sends.
const (
	maxTokenBody = 64 << 10
	maxPatchBody = 1 << 20
)

// mediaSegments are the per-media write paths Genesys has.
var mediaSegments = map[string]bool{
	"calls": true, "callbacks": true, "chats": true, "emails": true, "messages": true,
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.HandleFunc("GET /api/v2/conversations/{conversationId}", s.api(s.handleGet))
	mux.HandleFunc("PATCH /api/v2/conversations/{conversationId}/participants/"+
		"{participantId}/attributes", s.api(s.handlePatch))
	mux.HandleFunc("PATCH /api/v2/conversations/{media}/{conversationId}/participants/"+
		"{participantId}/attributes", s.api(s.handlePatch))
	mux.HandleFunc("/api/v2/", func(w http.ResponseWriter, _ *http.Request) {
		apiError(http.StatusNotFound, "not.found", "The requested resource was not found.").
			write(w)
	})
	s.adminRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// handleToken is the client-credentials grant: basic auth (or form fields) and
// grant_type=client_credentials.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.st.counts.TokenRequests++
	failing := chance(s.st.faults.TokenErrorRate)
	if failing {
		s.st.counts.TokenErrors++
	}
	s.mu.Unlock()
	if failing {
		oauthError(http.StatusServiceUnavailable, "temporarily_unavailable",
			"the login service is unavailable").write(w)
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	if err := r.ParseForm(); err != nil {
		oauthError(http.StatusBadRequest, "invalid_request", "unreadable form body").write(w)
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		oauthError(http.StatusBadRequest, "unsupported_grant_type",
			"grant type "+g+" is not supported").write(w)
		return
	}
	if !s.credentialsOK(r) {
		oauthError(http.StatusUnauthorized, "invalid_client", "client not found").write(w)
		return
	}

	tok := newToken()
	now := time.Now()
	lifetime := s.opts.TokenLifetime
	s.mu.Lock()
	s.pruneTokensLocked(now)
	s.st.tokens[tok] = now.Add(lifetime)
	s.st.counts.TokensIssued++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(lifetime / time.Second),
	})
}

func (s *Server) credentialsOK(r *http.Request) bool {
	if s.opts.ClientID == "" {
		return true
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 has clients form-encode both before basic auth; oauth2 does.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	return idOK && secretOK
}

// pruneTokensLocked forgets expired tokens once there are many, so long runs with short
// lifetimes do not grow the map without end.
func (s *Server) pruneTokensLocked(now time.Time) {
	if len(s.st.tokens) < 256 {
		return
	}
	for tok, exp := range s.st.tokens {
		if !now.Before(exp) {
			delete(s.st.tokens, tok)
			delete(s.st.windows, tok)
		}
	}
}

// apiHandler serves one API call after admission; token is the caller's bearer token and
// delay the latency fault's delay for this call.
type apiHandler func(w http.ResponseWriter, r *http.Request, token string, delay time.Duration)

// api wraps an API handler with authentication and the faults, in the order a real
// gateway would apply them: authentication, rate limit, then the service's own failures.
func (s *Server) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, f, refusal := s.admit(r)
		if refusal != nil {
			refusal.write(w)
			return
		}
		if chance(f.ErrorRate) {
			s.bump(func(c *Counts) { c.InjectedErrors++ })
			injectedError(f.ErrorStatus).write(w)
			return
		}
		if chance(f.HangRate) {
			s.bump(func(c *Counts) { c.Hung++ })
			s.hang(w, r)
			return
		}
		h(w, r, token, f.delay())
	}
}

// admit authenticates the call and applies the rate limit, returning the faults in force
// or the refusal to send.
func (s *Server) admit(r *http.Request) (string, Faults, *answer) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.counts.APIRequests++
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || token == "" {
		s.st.counts.Unauthorized++
		return "", Faults{}, apiError(http.StatusUnauthorized, "authentication.required",
			"No authentication bearer token specified in authorization header.")
	}
	if exp, ok := s.st.tokens[token]; !ok || !now.Before(exp) {
		s.st.counts.Unauthorized++
		return "", Faults{}, apiError(http.StatusUnauthorized, "bad.credentials",
			"Invalid login credentials.")
	}
	f := s.st.faults
	if wait := s.rateLimitLocked(token, f.RateLimitPerMinute, now); wait > 0 {
		s.st.counts.RateLimited++
		return "", Faults{}, rateLimited(wait, f.RateLimitPerMinute)
	}
	return token, f, nil
}

// rateLimitLocked counts the call in the token's window and returns the seconds to wait
// when the window is full, 0 when the call may go.
func (s *Server) rateLimitLocked(token string, limit int, now time.Time) int {
	if limit <= 0 {
		return 0
	}
	w := s.st.windows[token]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &rateWindow{start: now}
		s.st.windows[token] = w
	}
	if w.count >= limit {
		left := w.start.Add(time.Minute).Sub(now)
		return max(int(math.Ceil(left.Seconds())), 1)
	}
	w.count++
	return 0
}

func (s *Server) bump(f func(*Counts)) {
	s.mu.Lock()
	f(&s.st.counts)
	s.mu.Unlock()
}

// hang holds the request until the client gives up or the server closes; in the second
// case the client gets a 503 rather than a cut connection.
func (s *Server) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closing:
		apiError(http.StatusServiceUnavailable, "service.unavailable",
			"Service is currently unavailable.").write(w)
	}
}

// chance reports true with probability p. Faults need no unpredictable randomness, only a
// fair share.
func chance(p float64) bool {
	return p > 0 && rand.Float64() < p //nolint:gosec // fault injection, not security
}

// delay is the latency fault's delay for one call.
func (f Faults) delay() time.Duration {
	d := f.Latency
	if f.Jitter > 0 {
		d += rand.N(f.Jitter) //nolint:gosec // fault injection, not security
	}
	return d
}

// sleep waits d; it returns false when the client gave up first. Closing the server ends
// the wait early and returns true, so answers in progress still go out.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.closing:
		return true
	case <-ctx.Done():
		return false
	}
}

// handleGet answers a conversation read. The data is taken at arrival and sent after the
// latency delay, as a slow network would deliver it.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, token string,
	delay time.Duration) {
	now := time.Now()
	s.mu.Lock()
	c, _, refusal := s.lookupLocked(r.PathValue("conversationId"), "", now)
	var body *wireConversation
	if refusal == nil {
		body = s.readLocked(c, token, now)
	}
	s.mu.Unlock()

	if refusal != nil {
		refusal.write(w)
		return
	}
	if s.sleep(r.Context(), delay) {
		writeJSON(w, http.StatusOK, body)
	}
}

// patchBody is the write's body; a value that is not a string fails to decode, as the
// API refuses it.
type patchBody struct {
	Attributes map[string]string `json:"attributes"`
}

// handlePatch applies an attribute write. The write is in flight from arrival until it is
// applied after the latency delay; a second write to the same participant arriving in
// that window is an overlapping write.
func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request, token string,
	delay time.Duration) {
	media := r.PathValue("media")
	if media != "" && !mediaSegments[media] {
		apiError(http.StatusNotFound, "not.found", "The requested resource was not found.").
			write(w)
		return
	}
	var pb patchBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPatchBody))
	if err := dec.Decode(&pb); err != nil || pb.Attributes == nil {
		apiError(http.StatusBadRequest, "bad.request",
			"The request body must be {\"attributes\": {name: string value}}.").write(w)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)

	now := time.Now()
	s.mu.Lock()
	c, p, refusal := s.lookupLocked(r.PathValue("conversationId"),
		r.PathValue("participantId"), now)
	overlapping := false
	if refusal == nil {
		p.inFlight++
		overlapping = p.inFlight > 1
	}
	s.mu.Unlock()
	if refusal != nil {
		refusal.write(w)
		return
	}

	arrived := s.sleep(r.Context(), delay)
	s.mu.Lock()
	p.inFlight--
	if !arrived || s.st.convs[c.id] != c {
		// The client gave up during the delay, or a reset dropped the conversation.
		s.mu.Unlock()
		return
	}
	path := "generic"
	if media != "" {
		path = media
	}
	s.st.applyWrite(token, c, p, pb.Attributes, s.opts.WriteMode, path, overlapping,
		time.Now())
	stored := maps.Clone(p.attrs)
	s.mu.Unlock()

	if media == "" {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	writeJSON(w, http.StatusOK, patchBody{Attributes: stored})
}

// injectedError is the answer of an injected failure: status when it is set, else 500 or
// 503 at even odds, with the codes Genesys sends for each.
func injectedError(status int) *answer {
	if status == 0 {
		status = http.StatusInternalServerError
		if chance(0.5) {
			status = http.StatusServiceUnavailable
		}
	}
	switch status {
	case http.StatusServiceUnavailable:
		return apiError(status, "service.unavailable", "Service is currently unavailable.")
	case http.StatusGatewayTimeout:
		return apiError(status, "request.timeout", "The request timed out.")
	case http.StatusBadGateway:
		return apiError(status, "bad.gateway", "The gateway received an invalid response.")
	}
	return apiError(status, "internal.server.error",
		"The server encountered an unexpected condition.")
}
