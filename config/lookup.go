package config

import (
	"fmt"
	"strings"
	"time"
)

// Lookup source names.
const (
	LookupSourceFile  = "file"
	LookupSourceRedis = "redis"
	LookupSourceHTTP  = "http"
)

// Lookup settings for what happens when no key finds a record.
const (
	// LookupNotFoundSkip writes nothing.
	LookupNotFoundSkip = "skip"
	// LookupNotFoundDefaults writes each record-derived attribute's default, plus the
	// constants and event values, which do not depend on a record.
	LookupNotFoundDefaults = "defaults"
)

// Redis value formats.
const (
	// RedisFormatHash reads each key as a hash (HGETALL): one hash field per record field.
	RedisFormatHash = "hash"
	// RedisFormatJSON reads each key as a string holding a JSON object.
	RedisFormatJSON = "json"
)

// Lookup sets where attribute values come from and how they are named.
//
// Templates (keys, http.url, attributes[].format) are text with {{name}} or
// {{name|filter|...}} placeholders; docs/lookup.md lists the names and filters. Unknown
// names are refused when the lookup starts, not on the first event.
type Lookup struct {
	// Source is file, redis or http. Default file.
	Source string `yaml:"source"`
	// Keys are templates over the event's fields, tried in order; the first key that has a
	// record wins. A key whose placeholders render empty (the event lacks the field) is
	// skipped. Phone fields (ani, dnis, addressFrom, addressTo) render as E.164 without the
	// tel: prefix. Default ["customer:{{ani}}", "contact:{{externalContactId}}"].
	Keys []string `yaml:"keys"`
	// OnNotFound is skip (write nothing) or defaults (write each attribute's default, and
	// the constants and event values). Default skip.
	OnNotFound string `yaml:"on_not_found"`
	// Timeout bounds one whole lookup, every key included; past it the lookup fails as
	// transient and the event is retried. Default 1s.
	Timeout time.Duration `yaml:"timeout"`
	// EventFields adds event body field names that templates may use, for relays that post
	// fields of their own. The fields of Genesys conversation events are always known.
	// Default none.
	EventFields []string `yaml:"event_fields"`
	// RecordFields lists the record fields attributes may name (field, format). It makes a
	// misspelt field a start-up error instead of an attribute that is never written.
	// Required when attributes name record fields. Default none.
	RecordFields []string `yaml:"record_fields"`
	// Attributes maps lookups to Genesys participant attributes, one entry per attribute.
	// Empty passes every scalar record field through under its own name, which suits local
	// runs only: production should list what it writes. YAML only. Default none.
	Attributes []LookupAttribute `yaml:"attributes"`
	// CacheTTL keeps redis and http results (not-found included) in process for this long;
	// 0 turns the cache off. docs/lookup.md gives the measurement behind the default.
	// Default 0.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// CacheMaxEntries caps the cache; when full, new results are not cached until entries
	// expire. Default 10000.
	CacheMaxEntries int `yaml:"cache_max_entries"`
	// File sets the file source.
	File LookupFile `yaml:"file"`
	// Redis sets the redis source.
	Redis LookupRedis `yaml:"redis"`
	// HTTP sets the http source.
	HTTP LookupHTTP `yaml:"http"`
}

// LookupAttribute is one Genesys participant attribute and where its value comes from:
// exactly one of Field, Value, Event and Format.
type LookupAttribute struct {
	// Name is the attribute written, case-sensitive. Required.
	Name string `yaml:"name"`
	// Field copies this record field (one of lookup.record_fields).
	Field string `yaml:"field"`
	// Value writes this constant.
	Value string `yaml:"value"`
	// Event copies this event field, such as queueId.
	Event string `yaml:"event"`
	// Format renders a template: {{field}} is a record field, {{event.name}} an event
	// field. It renders empty when every record field it names is empty.
	Format string `yaml:"format"`
	// Transform is upper, lower or empty for none; it applies before Default.
	Transform string `yaml:"transform"`
	// Default is written when the value is empty. Without one, an empty value is not
	// written, so it cannot clear what another writer set.
	Default string `yaml:"default"`
}

// LookupFile sets the file source: records held in memory, reloaded when the file changes.
type LookupFile struct {
	// Path is a YAML or JSON file (by extension: .json is JSON, anything else YAML) mapping
	// each key to a record of field: value. Default examples/lookup.yaml, for local runs
	// from the repository.
	Path string `yaml:"path"`
	// PollInterval is how often the file's modification time and size are checked.
	// Default 2s.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// LookupRedis sets the redis source. Addr alone is a single server; MasterName with Addrs
// is Sentinel; Cluster with Addrs is Redis Cluster.
type LookupRedis struct {
	// Addr is a single server's host:port. Default 127.0.0.1:6379.
	Addr string `yaml:"addr"`
	// Addrs are the Sentinel or Cluster seed host:port addresses. Default none.
	Addrs []string `yaml:"addrs"`
	// MasterName is the Sentinel master's name; set it to use Sentinel. Default none.
	MasterName string `yaml:"master_name"`
	// Cluster uses Redis Cluster. Default false.
	Cluster bool `yaml:"cluster"`
	// Username and Password authenticate (ACL user, or the password alone). Default none.
	Username string `yaml:"username"`
	Password string `yaml:"password" secret:"true"`
	// SentinelUsername and SentinelPassword authenticate with Sentinel itself when it
	// needs other credentials than the master. Default none.
	SentinelUsername string `yaml:"sentinel_username"`
	SentinelPassword string `yaml:"sentinel_password" secret:"true"`
	// DB is the database number; Cluster has only 0. Default 0.
	DB int `yaml:"db"`
	// Format is hash (HGETALL) or json (GET of a JSON object). Default hash.
	Format string `yaml:"format"`
	// DialTimeout bounds connecting. Default 1s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// ReadTimeout and WriteTimeout bound each socket read and write. Default 500ms each.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// PoolSize is the number of connections per node. Default 32.
	PoolSize int `yaml:"pool_size"`
	// TLS sets TLS to the servers.
	TLS LookupTLS `yaml:"tls"`
}

// LookupTLS sets TLS for a lookup store.
type LookupTLS struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs to trust instead of the system's. Default none.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key, for mutual TLS.
	// Default none.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server's certificate. Default the
	// host dialled.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate; for tests only. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// LookupHTTP sets the http source: a GET per key, answered with a JSON object.
type LookupHTTP struct {
	// URL is the request URL; {{key}} is replaced by each rendered key, whose event
	// values are percent-encoded. 404 means no record. Required with source http.
	URL string `yaml:"url"`
	// BearerToken is sent as Authorization: Bearer. Default none.
	BearerToken string `yaml:"bearer_token" secret:"true"`
	// Timeout bounds each request. Default 1s.
	Timeout time.Duration `yaml:"timeout"`
}

func (l Lookup) validate() []error {
	var errs []error
	switch l.Source {
	case LookupSourceFile:
		errs = append(errs, l.File.validate()...)
	case LookupSourceRedis:
		errs = append(errs, l.Redis.validate()...)
	case LookupSourceHTTP:
		errs = append(errs, l.HTTP.validate()...)
	default:
		errs = append(errs, invalid("lookup.source", "%q is not file, redis or http", l.Source))
	}
	if len(l.Keys) == 0 {
		errs = append(errs, invalid("lookup.keys", "list at least one key template"))
	}
	for i, k := range l.Keys {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, invalid(fmt.Sprintf("lookup.keys[%d]", i), "empty template"))
		}
	}
	if l.OnNotFound != LookupNotFoundSkip && l.OnNotFound != LookupNotFoundDefaults {
		errs = append(errs, invalid("lookup.on_not_found", "%q is not skip or defaults",
			l.OnNotFound))
	}
	if l.Timeout <= 0 {
		errs = append(errs, invalid("lookup.timeout", "must be positive"))
	}
	if l.CacheTTL < 0 {
		errs = append(errs, invalid("lookup.cache_ttl", "must be 0 (off) or positive"))
	}
	if l.CacheMaxEntries < 1 {
		errs = append(errs, invalid("lookup.cache_max_entries", "must be at least 1"))
	}
	return append(errs, validateAttributes(l.Attributes)...)
}

func validateAttributes(attrs []LookupAttribute) []error {
	var errs []error
	seen := make(map[string]bool, len(attrs))
	for i, a := range attrs {
		path := fmt.Sprintf("lookup.attributes[%d]", i)
		if a.Name == "" {
			errs = append(errs, invalid(path+".name", "required"))
		} else if seen[a.Name] {
			errs = append(errs, invalid(path+".name", "%q is mapped twice", a.Name))
		}
		seen[a.Name] = true
		n := 0
		for _, s := range []string{a.Field, a.Value, a.Event, a.Format} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			errs = append(errs, invalid(path, "set exactly one of field, value, event, format"))
		}
		if a.Transform != "" && a.Transform != "upper" && a.Transform != "lower" {
			errs = append(errs, invalid(path+".transform", "%q is not upper or lower",
				a.Transform))
		}
	}
	return errs
}

func (f LookupFile) validate() []error {
	var errs []error
	if f.Path == "" {
		errs = append(errs, invalid("lookup.file.path", "required with source file"))
	}
	if f.PollInterval < 10*time.Millisecond {
		errs = append(errs, invalid("lookup.file.poll_interval", "must be at least 10ms"))
	}
	return errs
}

func (r LookupRedis) validate() []error {
	var errs []error
	switch {
	case r.MasterName != "" && r.Cluster:
		errs = append(errs, invalid("lookup.redis.master_name",
			"Sentinel (master_name) and cluster cannot be combined"))
	case r.MasterName != "" || r.Cluster:
		if len(r.Addrs) == 0 {
			errs = append(errs, invalid("lookup.redis.addrs",
				"list the Sentinel or Cluster seed addresses"))
		}
	case r.Addr == "":
		errs = append(errs, invalid("lookup.redis.addr", "required for a single server"))
	}
	if r.Addr != "" {
		if err := checkAddr(r.Addr); err != nil {
			errs = append(errs, invalid("lookup.redis.addr", "%v", err))
		}
	}
	for i, a := range r.Addrs {
		if err := checkAddr(a); err != nil {
			errs = append(errs, invalid(fmt.Sprintf("lookup.redis.addrs[%d]", i), "%v", err))
		}
	}
	if r.Cluster && r.DB != 0 {
		errs = append(errs, invalid("lookup.redis.db", "Redis Cluster has only db 0"))
	}
	if r.DB < 0 {
		errs = append(errs, invalid("lookup.redis.db", "must not be negative"))
	}
	if r.Format != RedisFormatHash && r.Format != RedisFormatJSON {
		errs = append(errs, invalid("lookup.redis.format", "%q is not hash or json", r.Format))
	}
	for name, d := range map[string]time.Duration{
		"dial_timeout": r.DialTimeout, "read_timeout": r.ReadTimeout,
		"write_timeout": r.WriteTimeout,
	} {
		if d <= 0 {
			errs = append(errs, invalid("lookup.redis."+name, "must be positive"))
		}
	}
	if r.PoolSize < 1 {
		errs = append(errs, invalid("lookup.redis.pool_size", "must be at least 1"))
	}
	if (r.TLS.CertFile == "") != (r.TLS.KeyFile == "") {
		errs = append(errs, invalid("lookup.redis.tls.cert_file",
			"set cert_file and key_file together, or neither"))
	}
	return errs
}

func (h LookupHTTP) validate() []error {
	var errs []error
	// The placeholders are checked when the lookup starts; here only the parts a template
	// cannot change.
	if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
		errs = append(errs, invalid("lookup.http.url", "must be an http(s) URL template"))
	}
	if h.Timeout <= 0 {
		errs = append(errs, invalid("lookup.http.timeout", "must be positive"))
	}
	return errs
}
