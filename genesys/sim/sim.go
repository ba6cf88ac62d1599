// Package sim is a Genesys Cloud stand-in: an HTTP server with the login and conversation
// paths, bodies and error shapes that the genesys client talks to, plus an admin API under
// /admin/ to register conversations, inject faults and read back what was written.
//
// It reproduces what makes the real service hard to write to: tokens that expire, a
// participant that is not visible for a moment after its event, rate limits, bad minutes,
// calls that hang. It also watches for lost updates (a write computed from a stale read, or
// two writes to one participant in flight at once) and counts them, so tests and
// benchmarks can assert that none happened.
//
// The admin API has no authentication: listen on a loopback address.
package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// WriteMode says what a PATCH of attributes does to the stored map. Genesys does not
// document which it does; the simulator offers both so callers can be tested under each.
type WriteMode string

// The write modes.
const (
	// WriteMerge sets the sent keys and keeps the others.
	WriteMerge WriteMode = "merge"
	// WriteReplace stores exactly the sent map.
	WriteReplace WriteMode = "replace"
)

// NotReadyStyle is the answer given for a conversation or participant that is not visible
// yet.
type NotReadyStyle string

// The not-ready answers seen from Genesys.
const (
	// NotReady404 answers 404 with code not.found.
	NotReady404 NotReadyStyle = "404"
	// NotReady400 answers 400 with a bare errors[] body whose message says "not found".
	NotReady400 NotReadyStyle = "400"
)

// Options set a Server. The zero value is a usable simulator that accepts any credentials.
type Options struct {
	// ClientID and ClientSecret are the credentials the token endpoint accepts. An empty
	// ClientID accepts any credentials.
	ClientID, ClientSecret string
	// TokenLifetime is how long an issued token is valid. Zero means 24h, Genesys's
	// default; tests set seconds to force expiry. Below 1s is raised to 1s.
	TokenLifetime time.Duration
	// ReadinessDelay is how long an auto-created conversation, or one registered through
	// the admin API without its own readiness_delay, answers "not found". Zero means at
	// once. (Registrations through the Go API always give their own delay.)
	ReadinessDelay time.Duration
	// NotReadyStyle picks the not-ready answer. Empty means NotReady404.
	NotReadyStyle NotReadyStyle
	// WriteMode picks what a write does to the stored map. Empty means WriteMerge.
	WriteMode WriteMode
	// AutoCreate creates a conversation on the first call naming an unknown id, with one
	// customer participant; a participant id first seen in a write path is added to it as
	// an agent. Each starts its ReadinessDelay at first sight.
	AutoCreate bool
	// Faults are the faults in force at start; SetFaults changes them.
	Faults Faults
}

// Faults are failures injected into the conversation API (/api/v2/...), and with
// TokenErrorRate into the token endpoint. The admin API is never faulted, so a test always
// controls the simulator.
type Faults struct {
	// Latency delays every answer. A read's data is taken before the delay and a write is
	// applied after it, which widens the windows in which lost updates can happen.
	Latency time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter).
	Jitter time.Duration
	// ErrorRate is the share of calls, 0 to 1, answered 500 or 503 (even odds), or
	// ErrorStatus when it is set.
	ErrorRate float64
	// ErrorStatus, when set, is the one status of the injected errors: 500, 502, 503 or
	// 504, for an outage that answers the same way every time.
	ErrorStatus int
	// RateLimitPerMinute answers 429 to a token's calls beyond this many in a one-minute
	// window that starts at the token's first call. Zero turns it off.
	RateLimitPerMinute int
	// HangRate is the share of calls, 0 to 1, that never answer: the request is held until
	// the client gives up or the server closes.
	HangRate float64
	// TokenErrorRate is the share of token requests, 0 to 1, answered 503 in the OAuth
	// error shape, as a login service outage. Zero leaves the token endpoint alone.
	TokenErrorRate float64
}

// Validate reports values that make no sense, naming the field.
func (f Faults) Validate() error {
	var errs []error
	if f.Latency < 0 || f.Jitter < 0 {
		errs = append(errs, errors.New("faults latency and jitter: must not be negative"))
	}
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		errs = append(errs, errors.New("faults error_rate: must be between 0 and 1"))
	}
	switch f.ErrorStatus {
	case 0, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		errs = append(errs, errors.New("faults error_status: must be 500, 502, 503 or 504"))
	}
	if f.HangRate < 0 || f.HangRate > 1 {
		errs = append(errs, errors.New("faults hang_rate: must be between 0 and 1"))
	}
	if f.TokenErrorRate < 0 || f.TokenErrorRate > 1 {
		errs = append(errs, errors.New("faults token_error_rate: must be between 0 and 1"))
	}
	if f.RateLimitPerMinute < 0 {
		errs = append(errs, errors.New("faults rate_limit_per_minute: must not be negative"))
	}
	return errors.Join(errs...)
}

const defaultTokenLifetime = 24 * time.Hour

// Server is the simulator. Its methods are safe for concurrent use; the Go methods and the
// admin API act on the same state.
type Server struct {
	opts    Options
	log     *zap.Logger
	handler http.Handler

	// closing is closed by Close; hanging and delayed requests give up when it is.
	closing   chan struct{}
	closeOnce sync.Once

	mu sync.Mutex
	st state
}

// New builds a Server. Invalid fault values are clamped into range; validate them first
// where they come from a user.
func New(opts Options, logger *zap.Logger) *Server {
	if logger == nil {
		logger = zap.NewNop()
	}
	switch {
	case opts.TokenLifetime <= 0:
		opts.TokenLifetime = defaultTokenLifetime
	case opts.TokenLifetime < time.Second:
		// expires_in is whole seconds; a shorter lifetime would read as "no expiry".
		opts.TokenLifetime = time.Second
	}
	if opts.NotReadyStyle != NotReady400 {
		opts.NotReadyStyle = NotReady404
	}
	if opts.WriteMode != WriteReplace {
		opts.WriteMode = WriteMerge
	}
	opts.Faults = clampFaults(opts.Faults)
	s := &Server{opts: opts, log: logger, closing: make(chan struct{})}
	s.st = newState(opts.Faults)
	s.handler = s.routes()
	return s
}

// Handler serves the Genesys paths, the admin API and /healthz.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases every request held by the hang or latency faults. The Server still
// answers afterwards, without those delays; closing the listener is the caller's job.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// Run listens on addr and serves until ctx is cancelled, then shuts down gracefully.
func (s *Server) Run(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Server timeouts. Requests held by the latency or hang faults are not bound by
// WriteTimeout, which only limits writing the answer; a latency fault longer than it makes
// the answer fail to arrive.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	shutdownGrace     = 10 * time.Second
)

// Serve serves on ln until ctx is cancelled. On cancel it first releases held requests
// (Close), then stops accepting and waits up to 10s for answers in progress.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          zap.NewStdLog(s.log),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("genesys simulator listening", zap.String("addr", ln.Addr().String()))

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.Close()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Answers still being written after the grace period: cut their connections.
		err = srv.Close()
	}
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	s.log.Info("genesys simulator stopped")
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

func clampFaults(f Faults) Faults {
	f.Latency, f.Jitter = max(f.Latency, 0), max(f.Jitter, 0)
	f.ErrorRate = min(max(f.ErrorRate, 0), 1)
	f.HangRate = min(max(f.HangRate, 0), 1)
	f.TokenErrorRate = min(max(f.TokenErrorRate, 0), 1)
	f.RateLimitPerMinute = max(f.RateLimitPerMinute, 0)
	return f
}
