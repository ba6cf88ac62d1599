package config

import (
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Log sets how processes log.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json (for log collectors) or console (for people). Default json.
	Format string `yaml:"format"`
}

func (l Log) validate() []error {
	var errs []error
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, l.Level) {
		errs = append(errs, invalid("log.level", "%q is not one of debug, info, warn, error", l.Level))
	}
	if l.Format != "json" && l.Format != "console" {
		errs = append(errs, invalid("log.format", "%q is not json or console", l.Format))
	}
	return errs
}

// Metrics sets the admin listener of each process.
type Metrics struct {
	// Addr is where /metrics, /healthz and /readyz are served; empty turns the listener
	// off. Bind it to 127.0.0.1 where the network is not trusted. Default :9090.
	Addr string `yaml:"addr"`
	// Namespace prefixes every metric name. Default scriptsync.
	Namespace string `yaml:"namespace"`
	// Pprof serves Go's profiler under /debug/pprof/ on the admin listener, for finding
	// where CPU time goes. Default false.
	Pprof bool `yaml:"pprof"`
}

var metricName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (m Metrics) validate() []error {
	var errs []error
	if m.Addr != "" {
		if err := checkAddr(m.Addr); err != nil {
			errs = append(errs, invalid("metrics.addr", "%v", err))
		}
	}
	if !metricName.MatchString(m.Namespace) {
		errs = append(errs, invalid("metrics.namespace", "%q is not a valid metric name prefix",
			m.Namespace))
	}
	return errs
}

// NATS sets the connection to NATS.
type NATS struct {
	// URL lists the servers to connect to, comma-separated. Default nats://127.0.0.1:4222.
	URL string `yaml:"url"`
	// Embedded starts a NATS server with JetStream inside the process and connects to it
	// without a socket. For local runs and tests; URL is then ignored. Default false.
	Embedded bool `yaml:"embedded"`
	// StoreDir is the embedded server's JetStream directory. Default ./data/nats.
	StoreDir string `yaml:"store_dir"`
	// SyncAlways makes the embedded server fsync every write before acknowledging it:
	// nothing acknowledged is lost on power loss, at a large throughput cost. Default false.
	SyncAlways bool `yaml:"sync_always"`
	// CredsFile is a NATS credentials file (JWT and NKey seed). Default none.
	CredsFile string `yaml:"creds_file"`
	// User and Password authenticate with a user name. Default none.
	User     string `yaml:"user"`
	Password string `yaml:"password" secret:"true"`
	// Token authenticates with a token. Default none.
	Token string `yaml:"token" secret:"true"`
	// ConnectTimeout bounds each connection attempt. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Name is the client name shown in the server's monitoring. Default scriptsync.
	Name string `yaml:"name"`
}

func (n NATS) validate() []error {
	var errs []error
	if !n.Embedded && strings.TrimSpace(n.URL) == "" {
		errs = append(errs, invalid("nats.url", "required unless nats.embedded is true"))
	}
	if n.Embedded && n.StoreDir == "" {
		errs = append(errs, invalid("nats.store_dir", "required when nats.embedded is true"))
	}
	if n.ConnectTimeout <= 0 {
		errs = append(errs, invalid("nats.connect_timeout", "must be positive"))
	}
	if n.Token != "" && n.User != "" {
		errs = append(errs, invalid("nats.token", "set either nats.token or nats.user, not both"))
	}
	return errs
}

// Stream sets the JetStream stream that holds accepted events. The ingest creates it, or
// updates it to these settings, at start-up.
type Stream struct {
	// Name of the stream. Default SCRIPTSYNC_EVENTS.
	Name string `yaml:"name"`
	// SubjectPrefix starts every event subject: <prefix>.<partition>.<conversation id>.
	// Default scriptsync.events.
	SubjectPrefix string `yaml:"subject_prefix"`
	// Partitions is how many partition tokens subjects carry. Changing it later moves
	// conversations between partitions. Default 16.
	Partitions int `yaml:"partitions"`
	// Replicas is the number of servers holding each message: 1 for one server, 3 for a
	// production cluster. Default 1.
	Replicas int `yaml:"replicas"`
	// MaxAge is how long events are kept after they are stored, processed or not, so they
	// can be replayed. Default 72h.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes caps the stream's size; when full, new events are refused (the sender gets
	// 503 and retries) rather than old ones dropped. -1 is no cap. Default -1.
	MaxBytes int64 `yaml:"max_bytes"`
	// Duplicates is the window in which a second event with the same id is recognized and
	// not stored again. Cover the senders' retry period. Default 1h.
	Duplicates time.Duration `yaml:"duplicates"`
}

func (s Stream) validate() []error {
	var errs []error
	if !streamName.MatchString(s.Name) {
		errs = append(errs, invalid("stream.name", "%q may hold only letters, digits, - and _",
			s.Name))
	}
	if !subjectPrefix.MatchString(s.SubjectPrefix) {
		errs = append(errs, invalid("stream.subject_prefix",
			"%q must be dot-separated tokens without wildcards", s.SubjectPrefix))
	}
	if s.Partitions < 1 || s.Partitions > 1024 {
		errs = append(errs, invalid("stream.partitions", "%d is outside 1..1024", s.Partitions))
	}
	if s.Replicas < 1 || s.Replicas > 5 {
		errs = append(errs, invalid("stream.replicas", "%d is outside 1..5", s.Replicas))
	}
	if s.MaxAge <= 0 {
		errs = append(errs, invalid("stream.max_age", "must be positive"))
	}
	if s.MaxBytes == 0 || s.MaxBytes < -1 {
		errs = append(errs, invalid("stream.max_bytes", "must be positive, or -1 for no cap"))
	}
	if s.Duplicates <= 0 || s.Duplicates > s.MaxAge {
		errs = append(errs, invalid("stream.duplicates", "must be positive and at most max_age"))
	}
	return errs
}

var (
	streamName    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	subjectPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	kvBucket      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

func checkAddr(addr string) error {
	_, _, err := net.SplitHostPort(addr)
	return err
}
