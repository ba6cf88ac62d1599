package lookup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// fileStore holds a YAML or JSON file's records in memory and reloads them when the file's
// modification time or size changes. A reload that fails keeps the last good records.
//
// The whole file is parsed on every change and held in memory, which suits local runs and
// record sets of up to some hundred thousand records; larger sets belong in Redis.
type fileStore struct {
	path string
	poll time.Duration
	want fieldSet
	log  *zap.Logger
	m    *metrics

	data   atomic.Pointer[fileData]
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// fileData is one loaded version of the file; it is never changed once published.
type fileData struct {
	records map[string]fileRecord
	stamp   fileStamp
}

// fileRecord is a record ready to map, or the reason it cannot be: one bad record fails
// only the lookups that reach it, not the whole file.
type fileRecord struct {
	fields map[string]string
	bad    *badRecordError
}

// fileStamp identifies a version of the file cheaply.
type fileStamp struct {
	modTime time.Time
	size    int64
}

// newFileStore loads the file once, failing when it cannot, and starts watching it.
func newFileStore(path string, poll time.Duration, want fieldSet, log *zap.Logger,
	m *metrics) (*fileStore, error) {
	s := &fileStore{path: path, poll: poll, want: want, log: log, m: m,
		done: make(chan struct{})}
	d, err := s.load()
	if err != nil {
		return nil, err
	}
	s.publish(d)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.watch(ctx)
	return s, nil
}

func (s *fileStore) fetch(_ context.Context, keys []string) (map[string]string, int, error) {
	d := s.data.Load()
	for i, k := range keys {
		r, ok := d.records[k]
		if !ok {
			continue
		}
		if r.bad != nil {
			return nil, i, r.bad
		}
		return r.fields, i, nil
	}
	return nil, -1, nil
}

// close stops the watcher and waits for it.
func (s *fileStore) close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
	})
	return nil
}

func (s *fileStore) publish(d *fileData) {
	s.data.Store(d)
	s.m.fileRecords.Set(float64(len(d.records)))
}

// watch polls the file until ctx is cancelled. A version that failed to load is not
// retried until the file changes again, so a broken file is logged once, not every tick.
func (s *fileStore) watch(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.poll)
	defer t.Stop()
	var failed fileStamp
	statFailed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := s.stat()
		if err != nil {
			if !statFailed {
				s.reloadFailed(err)
				statFailed = true
			}
			continue
		}
		statFailed = false
		if st == s.data.Load().stamp || st == failed {
			continue
		}
		d, err := s.load()
		if err != nil {
			s.reloadFailed(err)
			failed = st
			continue
		}
		failed = fileStamp{}
		s.publish(d)
		s.m.fileReloads.WithLabelValues("ok").Inc()
		s.log.Info("lookup file reloaded", zap.String("path", s.path),
			zap.Int("records", len(d.records)))
	}
}

func (s *fileStore) reloadFailed(err error) {
	s.log.Error("reload lookup file, keeping the last good records",
		zap.String("path", s.path), zap.Error(err))
	s.m.fileReloads.WithLabelValues("error").Inc()
}

func (s *fileStore) stat() (fileStamp, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{modTime: fi.ModTime(), size: fi.Size()}, nil
}

// load reads and parses the file. The file is stat'ed before and after reading: if it
// changed meanwhile (a writer that does not rename into place), the read may be torn, so
// it is refused and the next poll tries again.
func (s *fileStore) load() (*fileData, error) {
	before, err := s.stat()
	if err != nil {
		return nil, fmt.Errorf("read lookup file: %w", err)
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("read lookup file: %w", err)
	}
	after, err := s.stat()
	if err != nil {
		return nil, fmt.Errorf("read lookup file: %w", err)
	}
	if after != before {
		return nil, fmt.Errorf("read lookup file: changed while being read")
	}
	var recs map[string]fileRecord
	if strings.EqualFold(filepath.Ext(s.path), ".json") {
		recs, err = parseJSONRecords(data, s.want)
	} else {
		recs, err = parseYAMLRecords(data, s.want)
	}
	if err != nil {
		return nil, fmt.Errorf("parse lookup file %s: %w", s.path, err)
	}
	return &fileData{records: recs, stamp: before}, nil
}

func parseJSONRecords(data []byte, want fieldSet) (map[string]fileRecord, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, errors.New(jsonReason(err))
	}
	recs := make(map[string]fileRecord, len(raw))
	for k, v := range raw {
		recs[k] = toFileRecord(decodeJSONRecord(v, want))
	}
	return recs, nil
}

func toFileRecord(fields map[string]string, err error) fileRecord {
	if bad, ok := errors.AsType[*badRecordError](err); ok {
		return fileRecord{bad: bad}
	}
	return fileRecord{fields: fields}
}

// parseYAMLRecords walks the document's nodes rather than decoding into Go values, so a
// scalar keeps the text written in the file (007 stays 007, 2026-01-02 stays a date) just
// as a JSON number keeps its text.
func parseYAMLRecords(data []byte, want fieldSet) (map[string]fileRecord, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return map[string]fileRecord{}, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must map keys to records", top.Line)
	}
	recs := make(map[string]fileRecord, len(top.Content)/2)
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if _, dup := recs[k.Value]; dup {
			// The key is not quoted: it may be a phone number.
			return nil, fmt.Errorf("line %d: key defined twice", k.Line)
		}
		recs[k.Value] = yamlRecord(v, want)
	}
	return recs, nil
}

func yamlRecord(n *yaml.Node, want fieldSet) fileRecord {
	if n.Kind != yaml.MappingNode {
		return fileRecord{bad: &badRecordError{reason: fmt.Sprintf(
			"line %d: record is not a mapping of field: value", n.Line)}}
	}
	fields := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, v := n.Content[i].Value, n.Content[i+1]
		if !want.wants(name) {
			continue
		}
		s, err := yamlScalar(v)
		if err != nil {
			return fileRecord{bad: &badRecordError{field: name,
				reason: fmt.Sprintf("line %d: %v", v.Line, err)}}
		}
		if s != "" {
			fields[name] = s
		}
	}
	return fileRecord{fields: fields}
}

func yamlScalar(n *yaml.Node) (string, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode {
				return "", errors.New("holds a list of mappings or lists where scalars " +
					"were expected")
			}
			out = append(out, it.Value)
		}
		return strings.Join(out, ","), nil
	}
	return "", errors.New("holds a mapping where a scalar was expected")
}
