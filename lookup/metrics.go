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

	// collectors are the vectors behind the fields, for register.
	lookupsVec, durationVec prometheus.Collector
}

// newMetrics builds the lookup's metrics. Every label value is created up front so
// dashboards see zeros rather than gaps.
func newMetrics(ns, source string) *metrics {
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
	m := &metrics{
		lookups:  map[string]prometheus.Counter{},
		duration: duration.WithLabelValues(source),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "lookup_cache_total",
			Help: "In-process lookup cache hits and misses (only with lookup.cache_ttl set).",
		}, []string{"result"}),
		fileReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "lookup_file_reloads_total",
			Help: "Reloads of the lookup file by outcome (ok, error).",
		}, []string{"outcome"}),
		fileRecords: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "lookup_file_records",
			Help: "Records held from the lookup file.",
		}),
		lookupsVec:  lookups,
		durationVec: duration,
	}
	for _, o := range []string{outcomeFound, outcomeNotFound, outcomeTransient,
		outcomePermanent} {
		m.lookups[o] = lookups.WithLabelValues(source, o)
	}
	m.cache.WithLabelValues("hit")
	m.cache.WithLabelValues("miss")
	m.fileReloads.WithLabelValues("ok")
	m.fileReloads.WithLabelValues("error")
	return m
}

// register adds to reg, when it is not nil, the metrics that apply to the source and the
// cache setting, so a Redis lookup exports no file gauges.
func (m *metrics) register(reg prometheus.Registerer, source string, cached bool) error {
	if reg == nil {
		return nil
	}
	collectors := []prometheus.Collector{m.lookupsVec, m.durationVec}
	if cached {
		collectors = append(collectors, m.cache)
	}
	if source == sourceFile {
		collectors = append(collectors, m.fileReloads, m.fileRecords)
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register lookup metrics: %w", err)
		}
	}
	return nil
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
