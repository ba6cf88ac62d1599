package lookup

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/scriptsync/scriptsync/config"
)

// redisStore reads records from Redis: a single server, Sentinel or Cluster.
type redisStore struct {
	client redis.UniversalClient
	json   bool
	want   fieldSet
}

// newRedisStore connects and pings, so a wrong address or password fails at start-up.
func newRedisStore(ctx context.Context, cfg config.LookupRedis, want fieldSet) (*redisStore,
	error) {
	opts, err := redisOptions(cfg)
	if err != nil {
		return nil, err
	}
	client := redis.NewUniversalClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout+cfg.ReadTimeout)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("ping redis: %w", err)
	}
	return &redisStore{client: client, json: cfg.Format == config.RedisFormatJSON, want: want},
		nil
}

func redisOptions(cfg config.LookupRedis) (*redis.UniversalOptions, error) {
	tlsCfg, err := tlsConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	addrs := cfg.Addrs
	if cfg.MasterName == "" && !cfg.Cluster {
		addrs = []string{cfg.Addr}
	}
	return &redis.UniversalOptions{
		Addrs:            addrs,
		MasterName:       cfg.MasterName,
		IsClusterMode:    cfg.Cluster,
		ClientName:       "scriptsync-lookup",
		Username:         cfg.Username,
		Password:         cfg.Password,
		SentinelUsername: cfg.SentinelUsername,
		SentinelPassword: cfg.SentinelPassword,
		DB:               cfg.DB,
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.ReadTimeout,
		WriteTimeout:     cfg.WriteTimeout,
		PoolSize:         cfg.PoolSize,
		TLSConfig:        tlsCfg,
		// The lookup's own deadline must cut a slow command short, not only the socket
		// timeouts.
		ContextTimeoutEnabled: true,
		// Maintenance notifications are a managed-service feature; asking a plain server
		// for them only adds a failing command to every new connection.
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}, nil
}

func tlsConfig(cfg config.LookupTLS) (*tls.Config, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: cfg.ServerName,
		//nolint:gosec // An explicit, documented test-only setting.
		InsecureSkipVerify: cfg.InsecureSkipVerify,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read lookup.redis.tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("lookup.redis.tls.ca_file: no PEM certificate in %s",
				cfg.CAFile)
		}
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load lookup.redis.tls.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// fetch sends every key in one pipeline, so a miss on the first key costs no extra round
// trip, then takes the results in the configured order.
func (s *redisStore) fetch(ctx context.Context, keys []string) (map[string]string, int,
	error) {
	if len(keys) == 1 {
		rec, err := s.result(s.command(ctx, s.client, keys[0]))
		if err != nil {
			return nil, 0, err
		}
		if rec == nil {
			return nil, -1, nil
		}
		return rec, 0, nil
	}
	cmds := make([]redis.Cmder, len(keys))
	pipe := s.client.Pipeline()
	for i, k := range keys {
		cmds[i] = s.command(ctx, pipe, k)
	}
	// Exec's error repeats the first command's; each command is judged below.
	_, _ = pipe.Exec(ctx)
	for i, c := range cmds {
		rec, err := s.result(c)
		if err != nil {
			return nil, i, err
		}
		if rec != nil {
			return rec, i, nil
		}
	}
	return nil, -1, nil
}

func (s *redisStore) command(ctx context.Context, c redis.Cmdable, key string) redis.Cmder {
	if s.json {
		return c.Get(ctx, key)
	}
	return c.HGetAll(ctx, key)
}

// result reads one command's reply: a record, nil for no record, or an error.
func (s *redisStore) result(c redis.Cmder) (map[string]string, error) {
	if err := c.Err(); err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if redis.HasErrorPrefix(err, "WRONGTYPE") {
			want := "a hash"
			if s.json {
				want = "a string of JSON"
			}
			return nil, &badRecordError{reason: fmt.Sprintf(
				"key holds another Redis type than %s (lookup.redis.format)", want)}
		}
		return nil, err
	}
	if s.json {
		return decodeJSONRecord([]byte(c.(*redis.StringCmd).Val()), s.want)
	}
	rec := c.(*redis.MapStringStringCmd).Val()
	if len(rec) == 0 {
		return nil, nil
	}
	return rec, nil
}

func (s *redisStore) close() error {
	return s.client.Close()
}
