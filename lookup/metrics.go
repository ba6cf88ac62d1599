package lookup

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes, the values of the outcome label.
const (
	outcomeFound     = "found"
	outcomeNotFound  = "not_found"
	outcomeTransient = "transient"
	outcomePermanent = "permanent"
)

type metrics struct {
	lookups     map[string]prometheus.Counter
	duration    prometheus.Observer
	cache       *prometheus.CounterVec
	fileReloads *prometheus.CounterVec
	fileRecords prometheus.Gauge
}

// newMetrics builds the lookup's metrics and registers on reg, when it is not nil, those
// that apply to the source and cache settings. Every label value is created up front so
// dashboards see zeros rather than gaps.
func newMetrics(reg prometheus.Registerer, ns, source string, cached bool) (*metrics,
	error) {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "lookups_total",
		Help: "Lookups by source and outcome (found, not_found, transient, permanent).",
	}, []string{"source", "outcome"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "lookup_duration_seconds",
		Help: "Time to look an event up and map its record, by source.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25,
			.5, 1, 2.5},
	}, []string{"source"})
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "lookup_cache_total",
		Help: "In-process lookup cache hits and misses (only with lookup.cache_ttl set).",
	}, []string{"result"})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "lookup_file_reloads_total",
		Help: "Reloads of the lookup file by outcome (ok, error).",
	}, []string{"outcome"})
	records := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "lookup_file_records",
		Help: "Records held from the lookup file.",
	})
	m := &metrics{lookups: map[string]prometheus.Counter{},
		duration: duration.WithLabelValues(source), cache: cache, fileReloads: reloads,
		fileRecords: records}
	for _, o := range []string{outcomeFound, outcomeNotFound, outcomeTransient,
		outcomePermanent} {
		m.lookups[o] = lookups.WithLabelValues(source, o)
	}
	cache.WithLabelValues("hit")
	cache.WithLabelValues("miss")
	reloads.WithLabelValues("ok")
	reloads.WithLabelValues("error")
	if reg == nil {
		return m, nil
	}
	collectors := []prometheus.Collector{lookups, duration}
	if cached {
		collectors = append(collectors, cache)
	}
	if source == sourceFile {
		collectors = append(collectors, reloads, records)
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register lookup metrics: %w", err)
		}
	}
	return m, nil
}

// outcomeOf names the outcome label for a lookup's result.
func outcomeOf(res Result, err error) string {
	switch {
	case errors.Is(err, ErrPermanent):
		return outcomePermanent
	case err != nil:
		return outcomeTransient
	case res.Found:
		return outcomeFound
	}
	return outcomeNotFound
}
