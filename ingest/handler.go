// Package ingest receives conversation events over HTTP, checks who sent them, normalizes
// them and stores them in JetStream. A 2xx answer means the event is stored; every other
// answer tells the sender to fix its request or to retry.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
)

// Handler serves POST /v1/events, GET /healthz and GET /readyz.
type Handler struct {
	cfg     config.Ingest
	auth    *Authenticator
	pub     Publisher
	ready   func(context.Context) error
	log     *zap.Logger
	metrics *Metrics
	now     func() time.Time
	slots   chan struct{}
	allAll  bool
	types   map[string]bool
}

// HandlerOptions are the parts a Handler is built from.
type HandlerOptions struct {
	Config    config.Ingest
	Auth      *Authenticator
	Publisher Publisher
	// Ready reports whether events can be stored now (NATS connected, stream reachable).
	Ready   func(context.Context) error
	Logger  *zap.Logger
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewHandler builds the ingest's HTTP handler.
func NewHandler(o HandlerOptions) *Handler {
	h := &Handler{
		cfg: o.Config, auth: o.Auth, pub: o.Publisher, ready: o.Ready, log: o.Logger,
		metrics: o.Metrics, now: o.Now,
		slots:  make(chan struct{}, o.Config.MaxInFlight),
		allAll: slices.Contains(o.Config.EventTypes, "*"),
		types:  make(map[string]bool, len(o.Config.EventTypes)),
	}
	if h.now == nil {
		h.now = time.Now
	}
	for _, t := range o.Config.EventTypes {
		h.types[t] = true
	}
	return h
}

// ServeHTTP routes the ingest's endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/events":
		h.events(w, r)
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case "/readyz":
		h.readyz(w, r)
	default:
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
	}
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.ready(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// accepted is the 202 body.
type accepted struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate"`
	Ignored   bool   `json:"ignored,omitempty"`
	Type      string `json:"type,omitempty"`
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	shape := "unknown"
	outcome := h.handleEvent(w, r, &shape)
	h.metrics.requests.WithLabelValues(outcome, shape).Inc()
}

// handleEvent answers one event request and returns the outcome label for metrics. The
// checks run cheapest first, and authentication runs before parsing so an unauthenticated
// sender learns nothing about what the parser accepts.
func (h *Handler) handleEvent(w http.ResponseWriter, r *http.Request, shape *string) string {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(w, http.StatusMethodNotAllowed, "method_not_allowed",
			"use POST to send events")
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return fail(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type must be application/json")
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		return tooLarge(w, h.cfg.MaxBodyBytes)
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		return fail(w, http.StatusTooManyRequests, "too_many_requests",
			"the ingest is at its in-flight limit; retry shortly")
	}
	h.metrics.inFlight.Inc()
	defer h.metrics.inFlight.Dec()

	body, status := h.readBody(w, r)
	if status != 0 {
		return strconv.Itoa(status)
	}
	if err := h.auth.Verify(r, body); err != nil {
		return fail(w, http.StatusUnauthorized, "unauthorized", err.Error())
	}
	ev, senderID, err := normalize(body, r.Header.Get("webhook-id"), h.now())
	if err != nil {
		return h.rejectEvent(w, err)
	}
	*shape = string(ev.Source)
	h.metrics.bodyBytes.Observe(float64(len(body)))
	if !h.allAll && !h.types[ev.Type] {
		writeJSON(w, http.StatusAccepted, accepted{ID: ev.ID, Ignored: true, Type: ev.Type})
		return "ignored"
	}
	return h.store(w, r.Context(), ev, senderID)
}

func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int) {
	body, err := readAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes), r.ContentLength)
	if err == nil {
		return body, 0
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		tooLarge(w, h.cfg.MaxBodyBytes)
		return nil, http.StatusRequestEntityTooLarge
	}
	// The client went away or was too slow (the server's read timeout): nothing to store.
	fail(w, http.StatusBadRequest, "bad_request", "could not read the request body")
	return nil, http.StatusBadRequest
}

func (h *Handler) rejectEvent(w http.ResponseWriter, err error) string {
	if errors.Is(err, ErrInvalid) {
		return fail(w, http.StatusUnprocessableEntity, "invalid_event", err.Error())
	}
	return fail(w, http.StatusBadRequest, "malformed_event", err.Error())
}

// store publishes the event. senderID says the event id came from the sender rather than
// from the identity hash, so a duplicate may be the id reused for another event.
func (h *Handler) store(w http.ResponseWriter, ctx context.Context, ev *event.Event,
	senderID bool) string {
	data, err := ev.Marshal()
	if err != nil {
		return fail(w, http.StatusUnprocessableEntity, "invalid_event", "cannot encode event")
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	start := time.Now()
	res, err := h.pub.Publish(ctx, ev, data)
	if err != nil {
		h.log.Warn("event not stored", zap.String("event_id", ev.ID),
			zap.String("conversation_id", ev.ConversationID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		return fail(w, http.StatusServiceUnavailable, "unavailable",
			"the event was not confirmed stored; retry")
	}
	h.metrics.publish.Observe(time.Since(start).Seconds())
	// Only here, after JetStream answered duplicate, is the stored copy read: the path
	// every new event takes is unchanged.
	if res.Duplicate && senderID && h.reusedID(ctx, ev, res.Sequence) {
		h.log.Info("event id reused for a different event", zap.String("event_id", ev.ID),
			zap.String("conversation_id", ev.ConversationID),
			zap.Uint64("stream_seq", res.Sequence))
		writeError(w, http.StatusConflict, "id_reused", "event id "+ev.ID+
			" was already used for a different event; nothing was stored: send each new "+
			"event under an id of its own")
		return "id_reused"
	}
	if res.Duplicate {
		h.metrics.duplicates.Inc()
	}
	h.log.Debug("event stored", zap.String("event_id", ev.ID),
		zap.String("conversation_id", ev.ConversationID), zap.String("event_type", ev.Type),
		zap.Uint64("stream_seq", res.Sequence), zap.Bool("duplicate", res.Duplicate))
	writeStored(w, ev.ID, res.Duplicate)
	if res.Duplicate {
		return "duplicate"
	}
	return "stored"
}

// reusedID reports whether the event stored under seq, which JetStream named as the first
// copy of ev's id, has another raw body than ev. The raw body is compared because the
// stored encoding copies it byte for byte (event.Marshal), whereas the other fields
// include the receipt time, which differs on every retry.
//
// When the stored copy cannot be read (retention deleted it, or the read failed) it
// reports false, so the request is answered as a duplicate: the id was stored once, and
// answering 409 or 503 without knowing would turn a true retry into a rejected or endless
// one.
func (h *Handler) reusedID(ctx context.Context, ev *event.Event, seq uint64) bool {
	sr, ok := h.pub.(StoredReader)
	if !ok {
		return false
	}
	data, err := sr.Stored(ctx, seq)
	if err != nil {
		h.log.Debug("stored copy of a duplicate not read; answered as a duplicate",
			zap.String("event_id", ev.ID), zap.Uint64("stream_seq", seq), zap.Error(err))
		return false
	}
	var stored struct {
		Raw json.RawMessage `json:"raw"`
	}
	if err := json.Unmarshal(data, &stored); err != nil {
		h.log.Debug("stored copy of a duplicate not decoded; answered as a duplicate",
			zap.String("event_id", ev.ID), zap.Uint64("stream_seq", seq), zap.Error(err))
		return false
	}
	return !bytes.Equal(stored.Raw, ev.Raw)
}

// writeStored answers 202 for a stored event. It is written by hand because it is the
// answer to nearly every request; the id needs no escaping, as Normalize allows only
// letters, digits and _:.@/+=- in it.
func writeStored(w http.ResponseWriter, id string, duplicate bool) {
	b := make([]byte, 0, len(id)+32)
	b = append(append(append(b, `{"id":"`...), id...), `","duplicate":`...)
	b = strconv.AppendBool(b, duplicate)
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	// G705: the body is JSON served as JSON, and the id in it is checked as above.
	_, _ = w.Write(b) //nolint:gosec
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// readAll reads the body into a buffer sized from Content-Length when the sender gave one;
// MaxBytesReader has already bounded that size.
func readAll(r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(size) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func tooLarge(w http.ResponseWriter, limit int64) string {
	return fail(w, http.StatusRequestEntityTooLarge, "body_too_large",
		"the body is over the limit of "+strconv.FormatInt(limit, 10)+" bytes")
}

// fail writes an error answer and returns its status as the metrics outcome.
func fail(w http.ResponseWriter, status int, code, msg string) string {
	writeError(w, status, code, msg)
	return strconv.Itoa(status)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
