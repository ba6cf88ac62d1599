package chaos

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// scenario is one fault, injected once into a steady load.
type scenario struct {
	name string
	// simEnv configures the simulator for the whole scenario.
	simEnv []string
	// copies is how many times each event is posted in a row; 0 means once.
	copies int
	// repost sends this many accepted events again once the load is over.
	repost int
	// inject runs the fault, faultAt into the load; nil injects nothing.
	inject func(ctx context.Context, s *stack, r *run)
	// noDuplicates requires that no event was written twice.
	noDuplicates bool
	// tokenChurn marks the scenarios that change tokens under the workers, where a write
	// may follow its read under another token (a blind write to the simulator).
	tokenChurn bool
}

func (sc scenario) slug() string {
	return strings.NewReplacer(" ", "-", "(", "", ")", "", "/", "-").Replace(sc.name)
}

func scenarios() []scenario {
	return []scenario{
		{name: "no fault", noDuplicates: true},
		{name: "worker SIGKILL", inject: func(ctx context.Context, s *stack, r *run) {
			s.workers[0].kill(s.t)
			sleep(ctx, r.p.restartDown)
			s.startWorker(0)
		}},
		{name: "ingest SIGKILL", noDuplicates: true,
			inject: func(ctx context.Context, s *stack, r *run) {
				s.ingest.kill(s.t)
				sleep(ctx, r.p.restartDown)
				s.startIngest()
			}},
		// Both NATS scenarios post accepted events again once the server is back: the
		// duplicates window must have survived the restart on the store.
		{name: "nats-server restart", repost: 100,
			inject: func(ctx context.Context, s *stack, r *run) {
				s.restartNATS(ctx, r.p.restartDown)
			}},
		{name: "nats-server SIGKILL", repost: 100, inject: func(ctx context.Context, s *stack,
			r *run) {
			// Without a flush: what the server acknowledged must be on its store already.
			s.nats.kill(s.t)
			sleep(ctx, r.p.restartDown)
			s.nats.start(s.t)
			waitTCP(s.t, s.nats, s.natsAddr, startTimeout)
		}},
		{name: "Redis unreachable", inject: func(ctx context.Context, s *stack, r *run) {
			r.proxy.cut()
			defer r.proxy.restore()
			sleep(ctx, r.p.redisDown)
		}},
		{name: "Genesys 503 to everything", inject: func(ctx context.Context, s *stack, r *run) {
			s.setFaults(map[string]any{"error_rate": 1, "error_status": 503})
			defer s.setFaults(map[string]any{"error_rate": 0, "error_status": 0})
			sleep(ctx, r.p.errorsFor)
		}},
		{name: "429 storm", inject: func(ctx context.Context, s *stack, r *run) {
			s.setFaults(map[string]any{"rate_limit_per_minute": 20})
			defer s.setFaults(map[string]any{"rate_limit_per_minute": 0})
			sleep(ctx, r.p.stormFor)
		}},
		{name: "latency spikes", inject: func(ctx context.Context, s *stack, r *run) {
			// Two seconds of 1.5 to 2.5 s answers, beyond the client's 2 s timeout for
			// some, then two seconds of the usual latency, for the whole window.
			base := map[string]any{"latency": baseLatency, "jitter": baseJitter}
			defer s.setFaults(base)
			end := time.Now().Add(r.p.latencyFor)
			for time.Now().Before(end) && ctx.Err() == nil {
				s.setFaults(map[string]any{"latency": "1500ms", "jitter": "1s"})
				sleep(ctx, 2*time.Second)
				s.setFaults(base)
				sleep(ctx, 2*time.Second)
			}
		}},
		{name: "token endpoint down", tokenChurn: true, inject: func(ctx context.Context,
			s *stack, r *run) {
			// Revoking first makes every worker need a new token during the outage.
			s.setFaults(map[string]any{"token_error_rate": 1})
			defer s.setFaults(map[string]any{"token_error_rate": 0})
			if err := s.admin(http.MethodPost, "/admin/tokens/revoke", nil, nil); err != nil {
				s.t.Error(err)
			}
			sleep(ctx, r.p.tokenDown)
		}},
		{name: "tokens expire every 2s", simEnv: []string{"SCRIPTSYNC_SIM_TOKEN_LIFETIME=2s"},
			tokenChurn: true, inject: func(ctx context.Context, s *stack, r *run) {
				// Revocations on top of expiry: a token can die between a read and a write.
				for range 3 {
					sleep(ctx, 2*time.Second)
					if err := s.admin(http.MethodPost, "/admin/tokens/revoke", nil,
						nil); err != nil {
						s.t.Error(err)
					}
				}
			}},
		{name: "duplicates x3 and ingest restart", copies: 3, repost: 100, noDuplicates: true,
			inject: func(ctx context.Context, s *stack, r *run) {
				s.ingest.kill(s.t)
				sleep(ctx, r.p.restartDown)
				s.startIngest()
			}},
	}
}
