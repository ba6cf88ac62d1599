package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ingest's Prometheus collectors.
type Metrics struct {
	requests   *prometheus.CounterVec
	publish    prometheus.Histogram
	duplicates prometheus.Counter
	bodyBytes  prometheus.Histogram
	inFlight   prometheus.Gauge
}

// NewMetrics registers the ingest's collectors on reg under namespace.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ingest", Name: "requests_total",
			Help: "Event requests by outcome (stored, duplicate, ignored, id_reused, or " +
				"the error status) and envelope shape (notification, eventbridge, flat, " +
				"unknown).",
		}, []string{"outcome", "shape"}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "ingest", Name: "publish_duration_seconds",
			Help:    "Time from publish to JetStream's confirmation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ingest", Name: "duplicates_total",
			Help: "Events JetStream recognized as already stored.",
		}),
		bodyBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "ingest", Name: "body_bytes",
			Help:    "Size of accepted request bodies.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 7),
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "ingest", Name: "in_flight_requests",
			Help: "Event requests being handled now.",
		}),
	}
	reg.MustRegister(m.requests, m.publish, m.duplicates, m.bodyBytes, m.inFlight)
	return m
}
