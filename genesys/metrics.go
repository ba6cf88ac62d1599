package genesys

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the client's Prometheus collectors. Labels take values from small fixed
// sets: a route is a path template, never a path with ids in it.
type metrics struct {
	requests      *prometheus.CounterVec   // method, route, status_class
	duration      *prometheus.HistogramVec // method, route
	tokenFetches  prometheus.Counter
	tokenFailures prometheus.Counter
	rateLimited   prometheus.Counter
	authRetries   prometheus.Counter
	limiterWait   prometheus.Histogram
}

const subsystem = "genesys"

func newMetrics(reg prometheus.Registerer, ns string) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: subsystem, Name: "requests_total",
			Help: "Genesys Cloud API requests by method, route template and status class " +
				"(2xx, 4xx, 5xx, or error when no answer came).",
		}, []string{"method", "route", "status_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: subsystem, Name: "request_duration_seconds",
			Help:    "Time from sending a Genesys Cloud API request to reading its answer.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"method", "route"}),
		tokenFetches: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: subsystem, Name: "token_fetches_total",
			Help: "OAuth token requests sent to the login service.",
		}),
		tokenFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: subsystem, Name: "token_fetch_failures_total",
			Help: "OAuth token requests that did not return a token.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: subsystem, Name: "rate_limited_total",
			Help: "API answers with status 429; each one pauses every call of the process.",
		}),
		authRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: subsystem, Name: "auth_retries_total",
			Help: "API calls answered 401 and sent again with a fresh token.",
		}),
		limiterWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: subsystem, Name: "limiter_wait_seconds",
			Help:    "Time a call waited for the client-side rate limiter.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs [7]error
	m.requests, errs[0] = registerOrReuse(reg, m.requests)
	m.duration, errs[1] = registerOrReuse(reg, m.duration)
	m.tokenFetches, errs[2] = registerOrReuse(reg, m.tokenFetches)
	m.tokenFailures, errs[3] = registerOrReuse(reg, m.tokenFailures)
	m.rateLimited, errs[4] = registerOrReuse(reg, m.rateLimited)
	m.authRetries, errs[5] = registerOrReuse(reg, m.authRetries)
	m.limiterWait, errs[6] = registerOrReuse(reg, m.limiterWait)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}

// registerOrReuse registers c, or returns the collector already registered under the same
// name, so that two Clients built on one registry (a restart in tests) share their series.
func registerOrReuse[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	return c, err
}

// statusClass turns a status into its label value: 2xx, 4xx, 5xx; 0 means no answer.
func statusClass(status int) string {
	if status == 0 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}
