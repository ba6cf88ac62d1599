// Package broker connects scriptsync processes to NATS, or starts the embedded server for
// local runs, and creates the streams the processes share.
package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
)

// Conn is a NATS connection with its JetStream context, and the embedded server when the
// process runs one.
type Conn struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	server *server.Server
}

// Connect connects to NATS as cfg says. With cfg.Embedded and embed set, it first starts a
// JetStream server inside the process, listening at the host and port of cfg.URL so other
// processes (the CLI, a second worker) can reach it, and connects to it without a socket.
func Connect(ctx context.Context, cfg config.NATS, embed bool, log *zap.Logger) (*Conn, error) {
	c := &Conn{}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Timeout(cfg.ConnectTimeout),
		// Keep reconnecting for as long as the process lives: an ingest that gives up on
		// NATS can only answer 503 until someone restarts it.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			// A drain at shutdown disconnects without an error; that is not news.
			if err != nil || !nc.IsClosed() {
				log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", zap.String("server", nc.ConnectedUrlRedacted()))
		}),
	}
	opts = append(opts, authOptions(cfg)...)
	if cfg.Embedded && embed {
		srv, err := startEmbedded(cfg, log)
		if err != nil {
			return nil, err
		}
		c.server = srv
		opts = append(opts, nats.InProcessServer(srv))
	}
	nc, err := connectWithContext(ctx, cfg.URL, opts)
	if err != nil {
		c.shutdownServer()
		return nil, fmt.Errorf("connect to nats at %s: %w", redactURL(cfg.URL), err)
	}
	c.NC = nc
	js, err := jetstream.New(nc)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	c.JS = js
	return c, nil
}

// connectWithContext retries the first connection until ctx ends, so a process started
// before NATS waits for it instead of exiting.
func connectWithContext(ctx context.Context, urls string, opts []nats.Option) (*nats.Conn, error) {
	for {
		nc, err := nats.Connect(urls, opts...)
		if err == nil {
			return nc, nil
		}
		if !errors.Is(err, nats.ErrNoServers) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}

func authOptions(cfg config.NATS) []nats.Option {
	var opts []nats.Option
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	return opts
}

func startEmbedded(cfg config.NATS, log *zap.Logger) (*server.Server, error) {
	host, port, err := listenAddr(cfg.URL)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "scriptsync-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready to listen on %s (port taken?)",
			net.JoinHostPort(host, strconv.Itoa(port)))
	}
	log.Info("embedded nats started", zap.String("addr", srv.ClientURL()),
		zap.String("store_dir", cfg.StoreDir))
	return srv, nil
}

// listenAddr takes the first server of a nats.url list as the embedded server's address.
func listenAddr(urls string) (string, int, error) {
	first, _, _ := strings.Cut(urls, ",")
	u, err := url.Parse(strings.TrimSpace(first))
	if err != nil || u.Hostname() == "" {
		return "", 0, fmt.Errorf("nats.url: %q is not a nats://host:port URL", first)
	}
	port := 4222
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return "", 0, fmt.Errorf("nats.url: bad port %q", p)
		}
	}
	return u.Hostname(), port, nil
}

func redactURL(urls string) string {
	var out []string
	for part := range strings.SplitSeq(urls, ",") {
		if u, err := url.Parse(strings.TrimSpace(part)); err == nil {
			out = append(out, u.Redacted())
		}
	}
	return strings.Join(out, ",")
}

// Connected reports whether the connection is up right now.
func (c *Conn) Connected() bool {
	return c.NC != nil && c.NC.IsConnected()
}

// Close drains the connection, so published messages still in the client's buffers are
// flushed and subscriptions finish what they hold, then stops the embedded server.
func (c *Conn) Close() {
	if c.NC != nil {
		done := make(chan struct{})
		c.NC.SetClosedHandler(func(*nats.Conn) { close(done) })
		if err := c.NC.Drain(); err == nil {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				c.NC.Close()
			}
		} else {
			c.NC.Close()
		}
	}
	c.shutdownServer()
}

func (c *Conn) shutdownServer() {
	if c.server != nil {
		c.server.Shutdown()
		c.server.WaitForShutdown()
	}
}
