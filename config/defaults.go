package config

import "time"

// Default returns the configuration every file and environment overlay starts from. It is
// the one place defaults are set; each field's comment repeats its default.
func Default() Config {
	return Config{
		Log:     Log{Level: "info", Format: "json"},
		Metrics: Metrics{Addr: ":9090", Namespace: "scriptsync"},
		NATS: NATS{
			URL:            "nats://127.0.0.1:4222",
			StoreDir:       "./data/nats",
			ConnectTimeout: 5 * time.Second,
			Name:           "scriptsync",
		},
		Stream: Stream{
			Name:          "SCRIPTSYNC_EVENTS",
			SubjectPrefix: "scriptsync.events",
			Partitions:    16,
			Replicas:      1,
			MaxAge:        72 * time.Hour,
			MaxBytes:      -1,
			Duplicates:    time.Hour,
		},
		Ingest:  defaultIngest(),
		Genesys: defaultGenesys(),
		Lookup:  defaultLookup(),
		Worker:  defaultWorker(),
		// The simulator's well-known local credentials, not a secret.
		Sim: Sim{ //nolint:gosec // G101: see above
			Addr:          "127.0.0.1:8090",
			ClientID:      "scriptsync-sim",
			ClientSecret:  "scriptsync-sim-secret",
			TokenLifetime: 24 * time.Hour,
			NotReadyStyle: "404",
			WriteMode:     "merge",
		},
		Admin: Admin{Enabled: true, ReplayRate: 5},
	}
}

func defaultIngest() Ingest {
	return Ingest{
		Addr:              ":8080",
		MaxBodyBytes:      256 << 10,
		MaxInFlight:       2048,
		PublishTimeout:    5 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownGrace:     15 * time.Second,
		EventTypes:        []string{"*"},
		Auth: Auth{
			HMAC: HMACAuth{
				Header: "X-Hub-Signature-256", Prefix: "sha256=", Encoding: "base64",
			},
			StandardWebhooks: StandardWebhooksAuth{Tolerance: 5 * time.Minute},
			APIKey:           APIKeyAuth{Header: "Authorization", Scheme: "Bearer"},
			JWT:              JWTAuth{JWKSRefresh: 10 * time.Minute, Leeway: 30 * time.Second},
		},
	}
}

func defaultGenesys() Genesys {
	return Genesys{
		Region:         "us-east-1",
		Timeout:        10 * time.Second,
		RatePerMinute:  300,
		Burst:          10,
		MaxValueLength: 256,
		MaxAttributes:  50,
		SharedLimit: GenesysSharedLimit{
			Key: "scriptsync:genesys-limit", Timeout: 200 * time.Millisecond,
		},
	}
}

func defaultLookup() Lookup {
	return Lookup{
		Source:          LookupSourceFile,
		Keys:            []string{"customer:{{ani}}", "contact:{{externalContactId}}"},
		OnNotFound:      LookupNotFoundSkip,
		Timeout:         time.Second,
		CacheMaxEntries: 10000,
		File:            LookupFile{Path: "examples/lookup.yaml", PollInterval: 2 * time.Second},
		Redis: LookupRedis{
			Addr:         "127.0.0.1:6379",
			Format:       RedisFormatHash,
			DialTimeout:  time.Second,
			ReadTimeout:  500 * time.Millisecond,
			WriteTimeout: 500 * time.Millisecond,
			PoolSize:     32,
		},
		HTTP: LookupHTTP{Timeout: time.Second},
	}
}

func defaultWorker() Worker {
	return Worker{
		Consumer:       "scriptsync-worker",
		Concurrency:    64,
		AckWait:        60 * time.Second,
		AttemptTimeout: 20 * time.Second,
		MaxDeliver:     1000,
		MaxAckPending:  20000,
		ShutdownGrace:  15 * time.Second,
		Target:         TargetEvent,
		WriteMode:      WriteModeFull,
		OnEnded:        OnEndedSkip,
		LeaseBucket:    "scriptsync_leases",
		LeaseTTL:       30 * time.Second,
		LeaseRetry:     50 * time.Millisecond,
		Retry: Retry{
			NotReady:           NotReadyRetry{Window: time.Minute, Initial: 100 * time.Millisecond, Max: 2 * time.Second},
			Transient:          TransientRetry{MaxAge: time.Hour, Initial: time.Second, Max: time.Minute},
			RateLimitedMaxWait: 2 * time.Minute,
		},
		DeadLetter: DeadLetter{
			Stream:        "SCRIPTSYNC_DEAD_LETTERS",
			SubjectPrefix: "scriptsync.dead",
			MaxAge:        720 * time.Hour,
		},
	}
}

// DevDefault is the starting point of scriptsync dev: everything in one process on this
// machine, with an embedded NATS, the simulator as Genesys, and the sample lookup file.
// Nothing in it is fit for production: no authentication, and a store directory under the
// working directory.
func DevDefault() Config {
	c := Default()
	c.Log.Format = "console"
	c.Metrics.Addr = "127.0.0.1:9090"
	c.NATS.Embedded = true
	c.NATS.URL = "nats://127.0.0.1:14222"
	c.Ingest.Addr = "127.0.0.1:8080"
	c.Ingest.Auth.Methods = []string{AuthNone}
	c.Genesys.LoginURL = "http://" + c.Sim.Addr
	c.Genesys.APIURL = "http://" + c.Sim.Addr
	c.Genesys.ClientID = c.Sim.ClientID
	c.Genesys.ClientSecret = c.Sim.ClientSecret
	c.Sim.SeedFile = "examples/sim-conversations.json"
	c.Worker.Concurrency = 16
	return c
}

// SimDefault is the starting point of scriptsync sim: the dev defaults without the seed
// file, which only scriptsync dev, run from the repository, can rely on.
func SimDefault() Config {
	c := DevDefault()
	c.Sim.SeedFile = ""
	return c
}
