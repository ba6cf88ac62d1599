package worker

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	events     *prometheus.CounterVec
	processing prometheus.Histogram
	lag        *prometheus.HistogramVec
	attempts   prometheus.Histogram
	apiCalls   prometheus.Histogram
	inFlight   prometheus.Gauge
	pending    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, ns string) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: "worker", Name: "events_total",
			Help: "Event deliveries by outcome (applied, unchanged, no_data, stale, retried, " +
				"dead_lettered, interrupted) and reason (the retry class or dead-letter reason).",
		}, []string{"outcome", "reason"}),
		processing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "worker", Name: "processing_seconds",
			Help:    "Time to handle one delivery of an event.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "worker", Name: "lag_seconds",
			Help:    "Time from the event (since=event) or its receipt (since=receipt) to its write.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}, []string{"since"}),
		attempts: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "worker", Name: "attempts_per_applied_event",
			Help:    "Deliveries an event took until its write landed.",
			Buckets: []float64{1, 2, 3, 5, 10, 20, 50, 100},
		}),
		apiCalls: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "worker", Name: "api_calls_per_applied_event",
			Help:    "Genesys API calls in the delivery that applied an event.",
			Buckets: []float64{1, 2, 3, 4, 6, 10},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: "worker", Name: "in_flight_events",
			Help: "Events being handled now.",
		}),
	}
	m.pending = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: "worker", Name: "consumer_pending_events",
		Help: "Events the shared consumer holds: not yet delivered plus delivered and not " +
			"yet settled (waiting retries included), as this process last read it.",
	})
	reg.MustRegister(m.events, m.processing, m.lag, m.attempts, m.apiCalls, m.inFlight,
		m.pending)
	return m
}
