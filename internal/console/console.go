// Package console serves the operator console on the admin listener: a few static pages
// under /console/ and the JSON endpoints they need beside the admin API under /admin/v1/
// (an overview of the last minutes, dead letters counted by reason, deletion of a
// selection, and a search by conversation). The pages hold no data of their own: they ask
// for the admin token once, keep it in the tab's sessionStorage and send it in the
// Authorization header of every call, so the data endpoints sit behind the same token
// check as the admin API while the pages themselves are served to anyone who can reach
// the listener.
package console

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/adminapi"
	"github.com/scriptsync/scriptsync/internal/ops"
)

// Path is where the pages are served.
const Path = "/console/"

// Defaults for the overview's samples.
const (
	// DefaultInterval is how often the overview's figures are sampled.
	DefaultInterval = 5 * time.Second
	// DefaultWindow is how far back the overview reaches.
	DefaultWindow = 10 * time.Minute
)

//go:embed static
var static embed.FS

// Options are what the console is built from.
type Options struct {
	// JS reaches the streams; the caller owns its connection.
	JS jetstream.JetStream
	// Stream is the event stream, searched by conversation.
	Stream config.Stream
	// DeadLetter is the dead-letter stream.
	DeadLetter config.DeadLetter
	// Consumer is the workers' durable consumer, whose pending counts are the lag.
	Consumer string
	// Gatherer is the process's own metrics registry; nil leaves the rates out.
	Gatherer prometheus.Gatherer
	// Namespace prefixes the metric names read from Gatherer. Default scriptsync.
	Namespace string
	// Token is the admin token the data endpoints require; empty lets no call through.
	Token string
	// Interval is how often the overview's figures are sampled. Default 5s.
	Interval time.Duration
	// Window is how far back the overview reaches; the samples of that span are kept in
	// memory. Default 10m.
	Window time.Duration
	// Logger receives a line for every deletion and every failure. Default none.
	Logger *zap.Logger
}

// Console is the console of one process. Its sampler runs from Start until the context
// given to Start ends.
type Console struct {
	ops     *ops.Service
	js      jetstream.JetStream
	stream  config.Stream
	dead    config.DeadLetter
	cons    string
	sampler *sampler
	log     *zap.Logger
	done    chan struct{}
}

// Start registers the console's pages and endpoints on mux, next to the admin API
// mounted at adminapi.Prefix, and samples the overview's figures until ctx ends.
func Start(ctx context.Context, mux *http.ServeMux, o Options) *Console {
	c := newConsole(o)
	c.register(mux, o.Token)
	go c.run(ctx)
	return c
}

// Done is closed once the sampler has stopped, after the context given to Start ended.
func (c *Console) Done() <-chan struct{} {
	return c.done
}

func newConsole(o Options) *Console {
	if o.Namespace == "" {
		o.Namespace = "scriptsync"
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	c := &Console{
		ops: ops.New(ops.Options{JS: o.JS, Stream: o.Stream, DeadLetter: o.DeadLetter,
			Consumer: o.Consumer}),
		js: o.JS, stream: o.Stream, dead: o.DeadLetter, cons: o.Consumer, log: o.Logger,
		done: make(chan struct{}),
	}
	c.sampler = newSampler(o, c.lag)
	return c
}

// register adds the routes: the pages, open, and the data endpoints behind the token.
func (c *Console) register(mux *http.ServeMux, token string) {
	pages, err := fs.Sub(static, "static")
	if err != nil {
		panic("console: embedded pages missing: " + err.Error())
	}
	files := http.StripPrefix(Path, http.FileServerFS(pages))
	mux.Handle("GET "+Path, secure(noCache(files)))
	mux.Handle("GET "+Path[:len(Path)-1], secure(http.RedirectHandler(Path,
		http.StatusMovedPermanently)))

	api := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, secure(adminapi.RequireToken(token, jsonBody(h))))
	}
	api("GET "+adminapi.Prefix+"overview", c.overview)
	api("GET "+adminapi.Prefix+"dead-letter-reasons", c.reasons)
	api("POST "+adminapi.Prefix+"dead-letters/delete", c.deleteMany)
	api("GET "+adminapi.Prefix+"search", c.search)
}

// run samples until ctx ends.
func (c *Console) run(ctx context.Context) {
	defer close(c.done)
	c.sampler.run(ctx)
}
