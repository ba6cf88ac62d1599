package console

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// sampleTimeout bounds the reading of one sample.
const sampleTimeout = 2 * time.Second

// sample is the process's figures at one moment: counters as totals since the process
// started, the consumer's pending counts as they were.
type sample struct {
	at time.Time
	// has says which parts of the process the registry measured: an ingest-only
	// process has no worker counters, a worker no ingest counters.
	hasIngest, hasWorker, hasGenesys bool
	// stored counts events the ingest stored; applied events whose write landed;
	// rateLimited the Genesys answers with status 429.
	stored, applied, rateLimited float64
	// deadLettered counts events dead-lettered, by reason.
	deadLettered map[string]float64
	// lag is the workers' consumer's pending counts; nil when it could not be read.
	lag *lag
}

// lag is what the workers' consumer still holds.
type lag struct {
	// Pending is how many events were not yet delivered.
	Pending uint64 `json:"num_pending"`
	// AckPending is how many were delivered and not yet settled, waiting retries
	// included.
	AckPending int `json:"num_ack_pending"`
}

// total is the consumer's lag in events.
func (l *lag) total() uint64 {
	return l.Pending + uint64(max(l.AckPending, 0)) //nolint:gosec // not negative
}

// sampler keeps the samples of the last window in a ring.
type sampler struct {
	gatherer prometheus.Gatherer
	names    metricNames
	readLag  func(context.Context) (*lag, error)
	interval time.Duration
	log      *zap.Logger
	now      func() time.Time

	mu      sync.Mutex
	ring    []sample
	next    int
	full    bool
	lagWarn time.Time
}

// metricNames are the full names of the metrics read. A counter with labels is gathered
// only once it has a series, so the parts of the process are told by a gauge each always
// has.
type metricNames struct {
	ingestRequests, ingestInFlight, workerEvents, workerInFlight, rateLimited string
}

func newSampler(o Options, readLag func(context.Context) (*lag, error)) *sampler {
	n := max(int(o.Window/o.Interval), 2)
	return &sampler{
		gatherer: o.Gatherer,
		names: metricNames{
			ingestRequests: o.Namespace + "_ingest_requests_total",
			ingestInFlight: o.Namespace + "_ingest_in_flight_requests",
			workerEvents:   o.Namespace + "_worker_events_total",
			workerInFlight: o.Namespace + "_worker_in_flight_events",
			rateLimited:    o.Namespace + "_genesys_rate_limited_total",
		},
		readLag:  readLag,
		interval: o.Interval,
		log:      o.Logger,
		now:      time.Now,
		ring:     make([]sample, n),
	}
}

// run takes a sample at once, then one every interval, until ctx ends.
func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.take(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// take reads one sample and adds it to the ring.
func (s *sampler) take(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
	defer cancel()
	smp := sample{at: s.now(), deadLettered: map[string]float64{}}
	if s.gatherer != nil {
		families, err := s.gatherer.Gather()
		if err != nil {
			// Gather returns what it could read beside the error; use that.
			s.log.Debug("gather metrics for the console", zap.Error(err))
		}
		s.read(&smp, families)
	}
	l, err := s.readLag(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) &&
		!errors.Is(err, jetstream.ErrStreamNotFound) {
		// Until the first worker has created the stream and its consumer, there is no
		// lag to show.
		s.warnLag(err)
	}
	smp.lag = l

	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = smp
	s.next = (s.next + 1) % len(s.ring)
	s.full = s.full || s.next == 0
}

// warnLag logs a failure to read the consumer at most once a minute.
func (s *sampler) warnLag(err error) {
	s.mu.Lock()
	quiet := s.now().Sub(s.lagWarn) < time.Minute
	if !quiet {
		s.lagWarn = s.now()
	}
	s.mu.Unlock()
	if !quiet {
		s.log.Warn("read the workers' consumer for the console", zap.Error(err))
	}
}

// read takes the counters the overview shows from the gathered families.
func (s *sampler) read(smp *sample, families []*dto.MetricFamily) {
	for _, f := range families {
		switch f.GetName() {
		case s.names.ingestInFlight:
			smp.hasIngest = true
		case s.names.workerInFlight:
			smp.hasWorker = true
		case s.names.ingestRequests:
			smp.stored += sumWhere(f, "outcome", "stored")
		case s.names.workerEvents:
			smp.applied += sumWhere(f, "outcome", "applied")
			for _, m := range f.GetMetric() {
				if label(m, "outcome") == "dead_lettered" {
					smp.deadLettered[label(m, "reason")] += m.GetCounter().GetValue()
				}
			}
		case s.names.rateLimited:
			smp.hasGenesys = true
			smp.rateLimited += sumWhere(f, "", "")
		}
	}
}

// samples returns the ring's samples, oldest first.
func (s *sampler) samples() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.full {
		return append([]sample(nil), s.ring[:s.next]...)
	}
	out := make([]sample, 0, len(s.ring))
	out = append(out, s.ring[s.next:]...)
	return append(out, s.ring[:s.next]...)
}

// sumWhere adds up a counter family's series whose label name has value; every series
// when name is empty.
func sumWhere(f *dto.MetricFamily, name, value string) float64 {
	total := 0.0
	for _, m := range f.GetMetric() {
		if name == "" || label(m, name) == value {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
