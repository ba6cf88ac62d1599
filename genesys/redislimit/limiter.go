// Package redislimit is a genesys.Limiter whose budget lives in Redis, so that every
// process using one key stays under one budget together, and a 429 seen by one process
// pauses them all.
//
// The budget is a GCRA token bucket kept in one key and paced by the Redis server's own
// clock, so the processes' clocks need not agree. A second key holds the end of the
// current pause.
//
// When Redis cannot be reached the limiter falls back to a process-local bucket at the
// same rate: the fleet may then go over the shared budget, and Genesys answers the excess
// with 429s that the client already handles. Stopping every call of the fleet because
// the limiter's store is down would be worse.
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/scriptsync/scriptsync/genesys"
)

// Options configure a Limiter.
type Options struct {
	// Key names the budget; processes that use the same key share it. Required.
	Key string
	// PerMinute and Burst are the whole fleet's budget. Values below 1 are raised to 1.
	PerMinute, Burst int
	// Timeout bounds each Redis command, so a slow Redis delays a call by at most this
	// before the local fallback takes over. Default 200ms.
	Timeout time.Duration
	// Logger receives a warning when Redis fails, at most every ten seconds.
	Logger *zap.Logger
	// Registerer receives the limiter's metrics; Namespace prefixes their names.
	Registerer prometheus.Registerer
	Namespace  string
}

// Limiter is a genesys.Limiter shared through Redis. It is safe for concurrent use.
type Limiter struct {
	client     redis.UniversalClient
	keys       []string // the bucket's theoretical arrival time, the pause's end (both ms)
	intervalMS float64
	burst      int
	timeout    time.Duration
	// local paces calls while Redis cannot be reached, and holds this process's own
	// pauses, which must hold even when they could not be shared.
	local  *genesys.RateLimiter
	log    *zap.Logger
	warn   rate.Sometimes
	errors prometheus.Counter
}

var _ genesys.Limiter = (*Limiter)(nil)

// New builds a Limiter on client. It does not contact Redis; the caller pings it first
// where an unreachable Redis should stop the process from starting.
func New(client redis.UniversalClient, opts Options) (*Limiter, error) {
	if opts.Key == "" {
		return nil, errors.New("redislimit: a key is required")
	}
	perMinute, burst := max(opts.PerMinute, 1), max(opts.Burst, 1)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 200 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	counter := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: opts.Namespace, Subsystem: "genesys", Name: "shared_limiter_errors_total",
		Help: "Redis commands of the shared rate limiter that failed; each call that saw " +
			"one was paced by this process's own bucket instead.",
	})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(counter); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return nil, fmt.Errorf("register metrics: %w", err)
			}
			counter = already.ExistingCollector.(prometheus.Counter)
		}
	}
	return &Limiter{
		client:     client,
		keys:       []string{opts.Key + ":tat", opts.Key + ":pause"},
		intervalMS: 60000 / float64(perMinute),
		burst:      burst,
		timeout:    timeout,
		local:      genesys.NewRateLimiter(perMinute, burst),
		log:        log,
		warn:       rate.Sometimes{First: 1, Interval: 10 * time.Second},
		errors:     counter,
	}, nil
}

// serverNow starts every script: the Redis server's clock in milliseconds, so that every
// process measures the budget and the pauses by the same clock.
const serverNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

// take asks for one slot. Its answer is {status, wait in ms}:
//   - 0: the fleet is paused for wait; ask again then;
//   - 1: the slot is reserved, go after wait;
//   - 2: no slot within ARGV[3] ms (the caller's deadline); nothing was reserved.
//
// Times are milliseconds, written with string.format: Lua's own number-to-string
// conversion keeps 14 significant digits (and some Lua implementations switch to
// exponent notation), which would round the stored instants.
var take = redis.NewScript(serverNow + `
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then
  return {0, math.ceil(pause - now)}
end
local interval = tonumber(ARGV[1])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + interval
local wait = math.max(tat - tonumber(ARGV[2]) * interval - now, 0)
local limit = tonumber(ARGV[3])
if limit >= 0 and wait > limit then
  return {2, math.ceil(wait)}
end
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
return {1, math.ceil(wait)}
`)

// pause moves the end of the fleet's pause to ARGV[1] ms from now, unless it already
// ends later, and returns how long the pause now lasts.
var pause = redis.NewScript(serverNow + `
local want = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if want > cur then
  redis.call('SET', KEYS[1], string.format('%.0f', want), 'PX', tonumber(ARGV[1]) + 1000)
  cur = want
end
return cur - now
`)

// left answers how many ms of the fleet's pause remain, 0 when there is none.
var left = redis.NewScript(serverNow + `
local pause = tonumber(redis.call('GET', KEYS[1]) or '0')
return math.max(math.ceil(pause - now), 0)
`)

// Ready loads the scripts into Redis, so that a server which refuses them (an ACL without
// EVAL, say) is found at start-up rather than by falling back on every call.
func (l *Limiter) Ready(ctx context.Context) error {
	for _, s := range []*redis.Script{take, pause, left} {
		if err := s.Load(ctx, l.client).Err(); err != nil {
			return fmt.Errorf("load the limiter's scripts: %w", err)
		}
	}
	return nil
}

// Wait waits until the fleet's budget has a slot for one call, and past any pause.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		if err := l.local.WaitPause(ctx); err != nil {
			return err
		}
		status, wait, err := l.take(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.failed("take a slot", err)
			return l.local.Wait(ctx)
		}
		switch status {
		case 0:
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		case 1:
			if wait <= 0 {
				return nil
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			// A 429 seen while this call waited for its slot holds it back too.
			return l.waitPause(ctx)
		default:
			return fmt.Errorf("shared rate limit: the next slot is %v away, past the call's "+
				"deadline", wait)
		}
	}
}

// Pause holds every process sharing the key until d from now. The pause is kept locally
// too, so it holds this process even when Redis cannot be reached.
func (l *Limiter) Pause(d time.Duration) {
	if d <= 0 {
		return
	}
	l.local.Pause(d)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	ms := int64(math.Ceil(float64(d) / float64(time.Millisecond)))
	if err := pause.Run(ctx, l.client, l.keys[1:], ms).Err(); err != nil {
		l.failed("share a pause", err)
	}
}

func (l *Limiter) take(ctx context.Context) (status int64, wait time.Duration, err error) {
	limit := int64(-1)
	if dl, ok := ctx.Deadline(); ok {
		limit = max(time.Until(dl).Milliseconds(), 0)
	}
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := take.Run(rctx, l.client, l.keys, l.intervalMS, l.burst, limit).Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("unexpected answer %v", res)
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}

// waitPause waits out this process's pause and the fleet's, as one read of the latter.
func (l *Limiter) waitPause(ctx context.Context) error {
	if err := l.local.WaitPause(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	ms, err := left.Run(rctx, l.client, l.keys[1:]).Int64()
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.failed("read the pause", err)
		return nil
	}
	return sleep(ctx, time.Duration(ms)*time.Millisecond)
}

func (l *Limiter) failed(what string, err error) {
	l.errors.Inc()
	l.warn.Do(func() {
		l.log.Warn("shared rate limiter: redis failed; pacing this process on its own",
			zap.String("step", what), zap.Error(err))
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
