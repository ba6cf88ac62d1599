// Package httpserve runs an HTTP server under the lifecycle every scriptsync part shares:
// it runs until its context ends, then shuts down within a grace period.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Timeouts bound slow clients; every server scriptsync starts sets all four.
type Timeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultTimeouts suit the small admin and simulator endpoints.
var DefaultTimeouts = Timeouts{
	ReadHeader: 5 * time.Second, Read: 15 * time.Second,
	Write: 30 * time.Second, Idle: 120 * time.Second,
}

// Server is an HTTP server with its listener already bound, so a caller can learn the
// address (useful with port 0) before serving starts.
type Server struct {
	name  string
	ln    net.Listener
	srv   *http.Server
	grace time.Duration
	log   *zap.Logger
}

// Listen binds addr and prepares h to be served there.
func Listen(ctx context.Context, name, addr string, h http.Handler, t Timeouts,
	grace time.Duration, log *zap.Logger) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	return &Server{
		name: name, ln: ln, grace: grace, log: log,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: t.ReadHeader,
			ReadTimeout:       t.Read,
			WriteTimeout:      t.Write,
			IdleTimeout:       t.Idle,
			ErrorLog:          zap.NewStdLog(log.With(zap.String("server", name))),
		},
	}, nil
}

// Addr is the bound address.
func (s *Server) Addr() string {
	return s.ln.Addr().String()
}

// Run serves until ctx ends, then stops accepting connections and waits up to the grace
// period for requests in flight; past it, their connections are closed.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("listening", zap.String("server", s.name), zap.String("addr", s.Addr()))
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", s.name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.grace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("grace period over; closing connections", zap.String("server", s.name))
		err = s.srv.Close()
	}
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
