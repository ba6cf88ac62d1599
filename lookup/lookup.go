// Package lookup turns a conversation event into the participant attribute values to
// write: it builds keys from the event, reads the first matching record from a store (a
// file, Redis, or an HTTP service), and maps the record's fields to Genesys attribute
// names.
//
// A lookup has four outcomes callers branch on: a record was found (Result.Found), none
// was (Result.Found false, with the mapping's defaults when so configured), the store
// failed in a way a retry may cure (ErrTransient), or the record is bad (ErrPermanent).
package lookup

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
)

// Source names, as in Result.Source and the source metric label.
const (
	sourceFile  = config.LookupSourceFile
	sourceRedis = config.LookupSourceRedis
	sourceHTTP  = config.LookupSourceHTTP
)

// Result is a lookup's answer when it did not fail.
type Result struct {
	// Found reports that a record matched one of the keys.
	Found bool
	// Attributes are the values to write, already named as Genesys attributes. Empty means
	// there is nothing to write. Each lookup returns a new map, which the caller owns.
	Attributes map[string]string
	// Source is the store that answered: file, redis or http.
	Source string
}

// Lookuper finds the attribute values for an event. Implementations are safe for
// concurrent use. Errors wrap ErrTransient or ErrPermanent.
type Lookuper interface {
	Lookup(ctx context.Context, ev *event.Event) (Result, error)
}

// Options are the collaborators a Service reports through.
type Options struct {
	// Logger receives start-up, reload and per-lookup debug lines; nil logs nothing.
	Logger *zap.Logger
	// Registerer receives the lookup metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Namespace prefixes metric names, such as scriptsync.
	Namespace string
}

// store is one place records live. fetch tries keys in order and returns the first record
// found with its index, or index -1 when none matched. On error the index is the key
// being read; a *badRecordError means bad data, any other error an unavailable store.
type store interface {
	fetch(ctx context.Context, keys []string) (map[string]string, int, error)
	close() error
}

// Service is the Lookuper built from the configuration. Close it to stop the file
// watcher and release connections.
type Service struct {
	source       string
	keyTemplates []*template
	escape       bool
	mapping      *mapping
	defaults     bool
	timeout      time.Duration
	remote       bool
	store        store
	cache        *cache
	log          *zap.Logger
	m            *metrics

	closeOnce sync.Once
	closeErr  error
}

var _ Lookuper = (*Service)(nil)

// New checks the configuration, compiles its templates and mapping, and opens the source:
// it loads the file, or pings Redis, so a bad path, address or password fails here. An
// unknown field in any template is an error naming the setting and the field. ctx bounds
// the start-up work only; background work lasts until Close.
func New(ctx context.Context, cfg config.Lookup, opts Options) (*Service, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := &Service{
		source:   cfg.Source,
		escape:   cfg.Source == sourceHTTP,
		remote:   cfg.Source != sourceFile,
		defaults: cfg.OnNotFound == config.LookupNotFoundDefaults,
		timeout:  cfg.Timeout,
		log:      log.With(zap.String("lookup_source", cfg.Source)),
	}
	if err := s.compile(cfg); err != nil {
		return nil, err
	}
	s.m = newMetrics(opts.Namespace, cfg.Source)
	var err error
	if s.store, err = s.open(ctx, cfg); err != nil {
		return nil, err
	}
	cached := s.remote && cfg.CacheTTL > 0
	if err := s.m.register(opts.Registerer, cfg.Source, cached); err != nil {
		_ = s.store.close()
		return nil, err
	}
	if cached {
		s.cache = newCache(cfg.CacheTTL, cfg.CacheMaxEntries)
	}
	s.log.Info("lookup ready", zap.Int("key_templates", len(s.keyTemplates)),
		zap.Int("attributes", len(s.mapping.entries)), zap.Duration("cache_ttl", cfg.CacheTTL))
	return s, nil
}

// compile checks everything that does not need the store.
func (s *Service) compile(cfg config.Lookup) error {
	switch cfg.OnNotFound {
	case config.LookupNotFoundSkip, config.LookupNotFoundDefaults:
	default:
		return fmt.Errorf("lookup.on_not_found: %q is not skip or defaults", cfg.OnNotFound)
	}
	if cfg.Timeout <= 0 {
		return fmt.Errorf("lookup.timeout: must be positive")
	}
	if cfg.CacheTTL > 0 && cfg.CacheMaxEntries < 1 {
		return fmt.Errorf("lookup.cache_max_entries: must be at least 1 with a cache_ttl")
	}
	if len(cfg.Keys) == 0 {
		return fmt.Errorf("lookup.keys: list at least one key template")
	}
	for i, f := range cfg.RecordFields {
		if strings.TrimSpace(f) == "" {
			return fmt.Errorf("lookup.record_fields[%d]: empty name", i)
		}
	}
	c := newCompiler(cfg.EventFields, cfg.RecordFields)
	for i, k := range cfg.Keys {
		t, err := c.compile(fmt.Sprintf("lookup.keys[%d]", i), k, scopeEvent)
		if err != nil {
			return err
		}
		s.keyTemplates = append(s.keyTemplates, t)
	}
	var err error
	if s.mapping, err = compileMapping(cfg.Attributes, c); err != nil {
		return err
	}
	if len(s.mapping.entries) == 0 {
		s.log.Info("lookup.attributes is empty: every record field is written under its " +
			"own name")
	}
	if s.defaults && !s.mapping.hasDefaults() {
		s.log.Warn("lookup.on_not_found is defaults but no attribute has a default, a " +
			"constant or an event value: nothing is written when no record matches")
	}
	return nil
}

func (s *Service) open(ctx context.Context, cfg config.Lookup) (store, error) {
	switch cfg.Source {
	case sourceFile:
		if cfg.File.PollInterval <= 0 {
			return nil, fmt.Errorf("lookup.file.poll_interval: must be positive")
		}
		return newFileStore(cfg.File.Path, cfg.File.PollInterval, s.mapping.fields, s.log, s.m)
	case sourceRedis:
		switch cfg.Redis.Format {
		case config.RedisFormatHash, config.RedisFormatJSON:
		default:
			return nil, fmt.Errorf("lookup.redis.format: %q is not hash or json",
				cfg.Redis.Format)
		}
		return newRedisStore(ctx, cfg.Redis, s.mapping.fields)
	case sourceHTTP:
		return newHTTPStore(cfg.HTTP, s.mapping.fields)
	}
	return nil, fmt.Errorf("lookup.source: %q is not file, redis or http", cfg.Source)
}

// Lookup finds the record for ev and maps it. It never logs phone numbers or keys: log
// lines and errors name the key's template instead.
func (s *Service) Lookup(ctx context.Context, ev *event.Event) (Result, error) {
	start := time.Now()
	res, tmpl, err := s.lookup(ctx, ev)
	outcome := outcomeOf(res, err)
	s.m.lookups[outcome].Inc()
	elapsed := time.Since(start)
	s.m.duration.Observe(elapsed.Seconds())
	if ce := s.log.Check(zap.DebugLevel, "lookup"); ce != nil {
		ce.Write(zap.String("event_id", ev.ID), zap.String("conversation_id", ev.ConversationID),
			zap.String("outcome", outcome), zap.String("key_template", tmpl),
			zap.Int("attributes", len(res.Attributes)), zap.Duration("duration", elapsed))
	}
	return res, err
}

// lookup does the work of Lookup and also returns the template of the key that matched
// or failed, for the log.
func (s *Service) lookup(ctx context.Context, ev *event.Event) (Result, string, error) {
	keys, tmpls := s.renderKeys(ev)
	if len(keys) == 0 {
		return s.notFound(ev), "", nil
	}
	if s.remote {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	rec, idx, err := s.fetch(ctx, keys)
	if err != nil {
		tmpl := tmpls[max(idx, 0)].src
		return Result{Source: s.source}, tmpl, classify(s.source, tmpl, err)
	}
	if idx < 0 {
		return s.notFound(ev), "", nil
	}
	return Result{Found: true, Attributes: s.mapping.apply(ev, rec), Source: s.source},
		tmpls[idx].src, nil
}

// renderKeys builds the event's keys, skipping any whose fields the event lacks.
func (s *Service) renderKeys(ev *event.Event) ([]string, []*template) {
	keys := make([]string, 0, len(s.keyTemplates))
	tmpls := make([]*template, 0, len(s.keyTemplates))
	for _, t := range s.keyTemplates {
		k, r := t.render(ev, nil, s.escape)
		if r.emptyRef {
			continue
		}
		keys = append(keys, k)
		tmpls = append(tmpls, t)
	}
	return keys, tmpls
}

func (s *Service) fetch(ctx context.Context, keys []string) (map[string]string, int, error) {
	if s.cache == nil {
		return s.store.fetch(ctx, keys)
	}
	ck := cacheKey(keys)
	if rec, idx, ok := s.cache.get(ck); ok {
		s.m.cache.WithLabelValues("hit").Inc()
		return rec, idx, nil
	}
	s.m.cache.WithLabelValues("miss").Inc()
	rec, idx, err := s.store.fetch(ctx, keys)
	if err == nil {
		s.cache.put(ck, rec, idx)
	}
	return rec, idx, err
}

func (s *Service) notFound(ev *event.Event) Result {
	res := Result{Source: s.source}
	if s.defaults {
		res.Attributes = s.mapping.apply(ev, nil)
	}
	return res
}

// Close stops the file watcher, waiting for it, and closes connections. It is safe to
// call more than once. The Service must not be used after Close.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		if err := s.store.close(); err != nil {
			s.closeErr = fmt.Errorf("close lookup %s: %w", s.source, err)
		}
	})
	return s.closeErr
}
