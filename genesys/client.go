package genesys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

// Client calls the Genesys Cloud Platform API. It is safe for concurrent use, and one
// Client should serve the whole process: it holds the OAuth token and the rate limiter
// that all calls share.
type Client struct {
	cfg     Config
	apiBase string
	hc      *http.Client
	tokens  *tokenCache
	limiter Limiter
	m       *metrics
	log     *zap.Logger

	// warn429 keeps a burst of 429s, one per waiting goroutine, to one log line.
	warn429 rate.Sometimes
}

// Size limits on bodies read. A conversation with many participants and attributes stays
// far below maxBodyBytes; anything larger is not a conversation.
const (
	maxBodyBytes      = 8 << 20
	maxErrorBodyBytes = 64 << 10
	// defaultPause is how long a 429 without any Retry-After pauses the process.
	defaultPause = time.Second
	// maxPause caps a pause. The official SDK does not retry when Retry-After exceeds
	// 180s; here the pause ends then, and a new 429 starts a new one.
	maxPause = 3 * time.Minute
)

// New builds a Client. It does not contact Genesys: the first call fetches the token.
func New(cfg Config, opts Options) (*Client, error) {
	cfg, err := cfg.withFallbacks()
	if err != nil {
		return nil, err
	}
	tokenURL, apiBase, err := cfg.endpoints()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer, opts.Namespace)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	limiter := opts.Limiter
	if limiter == nil {
		limiter = NewRateLimiter(cfg.RatePerMinute, cfg.Burst)
	}
	return &Client{
		cfg:     cfg,
		apiBase: apiBase,
		hc:      hc,
		tokens:  newTokenCache(tokenURL, cfg, hc, m, log),
		limiter: limiter,
		m:       m,
		log:     log,
		warn429: rate.Sometimes{First: 1, Interval: 10 * time.Second},
	}, nil
}

// defaultHTTPClient keeps enough idle connections to the one API host for a worker's
// concurrency; the default transport keeps two, which under load means a new TLS
// handshake for most calls.
func defaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 128
	return &http.Client{Transport: tr}
}

// Config returns the settings in force, fallbacks applied, with the client secret left
// out so the result can be logged.
func (c *Client) Config() Config {
	cfg := c.cfg
	cfg.ClientSecret = ""
	return cfg
}

// CloseIdleConnections closes the idle connections of the HTTP client, as on shutdown.
// The Client stays usable.
func (c *Client) CloseIdleConnections() {
	c.hc.CloseIdleConnections()
}

// route is a call's method and path template, the metric labels.
type route struct{ method, template string }

var (
	routeGetConversation = route{http.MethodGet, "/api/v2/conversations/{conversationId}"}
	routePatchAttributes = route{http.MethodPatch,
		"/api/v2/conversations/{conversationId}/participants/{participantId}/attributes"}
)

// mediaPaths maps an event's media type to the per-media path segment.
var mediaPaths = map[string]string{
	"VOICE":    "calls",
	"CALLBACK": "callbacks",
	"CHAT":     "chats",
	"EMAIL":    "emails",
	"MESSAGE":  "messages",
}

// mediaRoutes holds one route per media path, built once so labels are not rebuilt per
// call.
var mediaRoutes = func() map[string]route {
	out := make(map[string]route, len(mediaPaths))
	for _, seg := range mediaPaths {
		out[seg] = route{http.MethodPatch, "/api/v2/conversations/" + seg +
			"/{conversationId}/participants/{participantId}/attributes"}
	}
	return out
}()

// GetConversation reads a conversation with its participants and their attributes.
func (c *Client) GetConversation(ctx context.Context, conversationID string) (*Conversation,
	error) {
	if conversationID == "" {
		return nil, fmt.Errorf("get conversation: %w",
			&InvalidError{Reason: "the conversation id is empty"})
	}
	var w wireConversation
	path := "/api/v2/conversations/" + url.PathEscape(conversationID)
	if err := c.call(ctx, routeGetConversation, path, nil, &w); err != nil {
		return nil, fmt.Errorf("get conversation %s: %w", conversationID, err)
	}
	return w.conversation(), nil
}

// PatchParticipantAttributes writes attrs to a participant. Whether Genesys merges them
// into the stored attributes or replaces the stored map is not documented: send the full
// map you want stored. An empty attrs sends nothing and returns nil.
//
// media is the event's media type (VOICE, CALLBACK, CHAT, EMAIL, MESSAGE, or empty). With
// Config.PerMediaPath it selects the per-media path; an empty or unknown media type falls
// back to the generic path. Without PerMediaPath it is ignored.
func (c *Client) PatchParticipantAttributes(ctx context.Context, conversationID,
	participantID, media string, attrs map[string]string) error {
	if err := c.checkPatch(conversationID, participantID, attrs); err != nil {
		return fmt.Errorf("patch participant attributes: %w", err)
	}
	if len(attrs) == 0 {
		return nil
	}
	body, err := json.Marshal(struct {
		Attributes map[string]string `json:"attributes"`
	}{attrs})
	if err != nil {
		return fmt.Errorf("encode attributes: %w", err)
	}
	rt, path := c.patchRoute(conversationID, participantID, media)
	if err := c.call(ctx, rt, path, body, nil); err != nil {
		return fmt.Errorf("patch participant %s attributes in conversation %s: %w",
			participantID, conversationID, err)
	}
	return nil
}

func (c *Client) checkPatch(conversationID, participantID string, attrs map[string]string,
) error {
	switch {
	case conversationID == "":
		return &InvalidError{Reason: "the conversation id is empty"}
	case participantID == "":
		return &InvalidError{Reason: "the participant id is empty"}
	}
	return c.checkAttributes(attrs)
}

func (c *Client) patchRoute(conversationID, participantID, media string) (route, string) {
	tail := url.PathEscape(conversationID) + "/participants/" +
		url.PathEscape(participantID) + "/attributes"
	if c.cfg.PerMediaPath {
		if seg, ok := mediaPaths[strings.ToUpper(media)]; ok {
			return mediaRoutes[seg], "/api/v2/conversations/" + seg + "/" + tail
		}
	}
	return routePatchAttributes, "/api/v2/conversations/" + tail
}

// call sends one API call, and sends it once more with a new token when the first answer
// is 401: tokens can be revoked or expire early, and that is not the call's fault.
func (c *Client) call(ctx context.Context, rt route, path string, body []byte, out any) error {
	for retried := false; ; retried = true {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return fmt.Errorf("get token: %w", err)
		}
		err = c.send(ctx, rt, path, tok, body, out)
		var apiErr *APIError
		if retried || !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
			return err
		}
		c.m.authRetries.Inc()
		c.tokens.invalidate(tok)
	}
}

// send waits for the limiter, then makes one HTTP exchange bounded by the call timeout.
func (c *Client) send(ctx context.Context, rt route, path string, tok *oauth2.Token,
	body []byte, out any) error {
	if err := c.wait(ctx); err != nil {
		return &LimitedError{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, rt.method, c.apiBase+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	tok.SetAuthHeader(req)

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.observe(rt, 0, start)
		return &transportError{err: fmt.Errorf("send request: %w", err)}
	}
	defer func() {
		drain(resp.Body)
		_ = resp.Body.Close()
	}()
	err = c.readAnswer(resp, out)
	c.observe(rt, resp.StatusCode, start)
	if err != nil {
		c.logFailure(rt, resp.StatusCode, err)
	}
	return err
}

func (c *Client) wait(ctx context.Context) error {
	start := time.Now()
	err := c.limiter.Wait(ctx)
	c.m.limiterWait.Observe(time.Since(start).Seconds())
	return err
}

// readAnswer decodes a 2xx body into out, or turns any other answer into an APIError.
func (c *Client) readAnswer(resp *http.Response, out any) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			return nil
		}
		dec := json.NewDecoder(io.LimitReader(resp.Body, maxBodyBytes))
		if err := dec.Decode(out); err != nil {
			// A 2xx with a body we cannot read is most often a cut connection.
			return &transportError{err: fmt.Errorf("decode answer: %w", err)}
		}
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	if err != nil {
		return &transportError{err: fmt.Errorf("read error answer %d: %w", resp.StatusCode,
			err)}
	}
	apiErr := parseError(resp.StatusCode, resp.Header, data, false)
	if apiErr.Status == http.StatusTooManyRequests {
		c.rateLimited(apiErr)
	}
	return apiErr
}

// rateLimited pauses every call of the process: the limit is the token's, and the token
// is shared, so the goroutine that saw the 429 is not the only one over the limit.
func (c *Client) rateLimited(apiErr *APIError) {
	c.m.rateLimited.Inc()
	pause := apiErr.RetryAfter
	if pause <= 0 {
		pause = defaultPause
	}
	pause = min(pause, c.cfg.MaxRateLimitPause)
	c.limiter.Pause(pause)
	c.warn429.Do(func() {
		c.log.Warn("genesys rate limit hit, pausing all calls",
			zap.Duration("pause", pause), zap.String("correlation_id", apiErr.CorrelationID))
	})
}

func (c *Client) observe(rt route, status int, start time.Time) {
	c.m.requests.WithLabelValues(rt.method, rt.template, statusClass(status)).Inc()
	c.m.duration.WithLabelValues(rt.method, rt.template).Observe(time.Since(start).Seconds())
}

// logFailure logs at debug: the caller decides what a failure means and logs that.
func (c *Client) logFailure(rt route, status int, err error) {
	if !c.log.Core().Enabled(zap.DebugLevel) {
		return
	}
	fields := []zap.Field{
		zap.String("method", rt.method), zap.String("route", rt.template),
		zap.Int("status", status), zap.String("class", Classify(err).String()),
		zap.Error(err),
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		fields = append(fields, zap.String("code", apiErr.Code),
			zap.String("correlation_id", apiErr.CorrelationID))
	}
	c.log.Debug("genesys call failed", fields...)
}

// drain reads what is left of a body, up to a bound, so the connection can be reused.
func drain(body io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxErrorBodyBytes))
}
