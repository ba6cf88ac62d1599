package genesys_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/genesys"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func simOptions() sim.Options {
	return sim.Options{ClientID: "id", ClientSecret: "secret"}
}

// register adds a conversation with a customer and an agent, ready at once.
func register(t testing.TB, srv *sim.Server, attrs map[string]string) (string, string) {
	t.Helper()
	cs, err := srv.RegisterConversation(sim.ConversationSpec{Participants: []sim.ParticipantSpec{
		{Purpose: "customer", Attributes: attrs}, {Purpose: "agent"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cs.ID, cs.Participants[0].ID
}

func TestSimReadWriteMerge(t *testing.T) {
	t.Parallel()
	srv, base := testsupport.StartSim(t, simOptions())
	conv, cust := register(t, srv, map[string]string{"ivr_lang": "en-US"})
	c, _ := testClient(t, base, nil)
	ctx := ctxT(t)

	got, err := c.GetConversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := got.Participant(cust)
	if !ok || p.Purpose != "customer" || p.State != "connected" || p.StartTime.IsZero() {
		t.Fatalf("participant %+v", p)
	}
	if err := c.PatchParticipantAttributes(ctx, conv, cust, "VOICE",
		map[string]string{"cust_tier": "gold"}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetConversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = got.Participant(cust)
	if p.Attributes["cust_tier"] != "gold" || p.Attributes["ivr_lang"] != "en-US" {
		t.Errorf("attributes after merge %v", p.Attributes)
	}
	counts := srv.Counts()
	if counts.Writes != 1 || counts.Reads != 2 || counts.LostUpdates != 0 ||
		counts.BlindWrites != 0 || counts.TokenRequests != 1 {
		t.Errorf("counts %+v", counts)
	}
	if w := srv.Writes(); len(w) != 1 || w[0].Path != "generic" {
		t.Errorf("write log %+v", w)
	}
}

func TestSimPerMediaPathAndReplace(t *testing.T) {
	t.Parallel()
	opts := simOptions()
	opts.WriteMode = sim.WriteReplace
	srv, base := testsupport.StartSim(t, opts)
	conv, cust := register(t, srv, map[string]string{"ivr_lang": "en-US"})
	c, _ := testClient(t, base, func(cfg *genesys.Config, _ *genesys.Options) {
		cfg.PerMediaPath = true
	})
	if err := c.PatchParticipantAttributes(ctxT(t), conv, cust, "CHAT",
		map[string]string{"cust_tier": "gold"}); err != nil {
		t.Fatal(err)
	}
	cs, _ := srv.Conversation(conv)
	if a := cs.Participants[0].Attributes; len(a) != 1 || a["cust_tier"] != "gold" {
		t.Errorf("attributes after replace %v", a)
	}
	if w := srv.Writes(); len(w) != 1 || w[0].Path != "chats" || !w[0].Blind {
		t.Errorf("write log %+v", w)
	}
}

func TestSimNotReadyThenReady(t *testing.T) {
	t.Parallel()
	for _, style := range []sim.NotReadyStyle{sim.NotReady404, sim.NotReady400} {
		t.Run(string(style), func(t *testing.T) {
			t.Parallel()
			opts := simOptions()
			opts.NotReadyStyle = style
			srv, base := testsupport.StartSim(t, opts)
			cs, err := srv.RegisterConversation(sim.ConversationSpec{
				ReadinessDelay: 300 * time.Millisecond,
				Participants:   []sim.ParticipantSpec{{Purpose: "customer"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := testClient(t, base, nil)
			ctx := ctxT(t)
			attrs := map[string]string{"a": "1"}
			pid := cs.Participants[0].ID

			err = c.PatchParticipantAttributes(ctx, cs.ID, pid, "", attrs)
			if genesys.Classify(err) != genesys.ClassNotReady {
				t.Fatalf("first write: class %v for %v", genesys.Classify(err), err)
			}
			testsupport.Eventually(t, 5*time.Second, func() bool {
				return c.PatchParticipantAttributes(ctx, cs.ID, pid, "", attrs) == nil
			}, "participant never became ready")
			if n := srv.Counts().NotReady; n < 1 {
				t.Errorf("not-ready count %d", n)
			}
		})
	}
}

func TestSimUnknownConversationIsNotReady(t *testing.T) {
	t.Parallel()
	_, base := testsupport.StartSim(t, simOptions())
	c, _ := testClient(t, base, nil)
	_, err := c.GetConversation(ctxT(t), "no-such-conversation")
	if genesys.Classify(err) != genesys.ClassNotReady {
		t.Fatalf("class %v for %v", genesys.Classify(err), err)
	}
	var apiErr *genesys.APIError
	if !errors.As(err, &apiErr) || apiErr.CorrelationID == "" {
		t.Errorf("no correlation id in %v", err)
	}
}

// TestOneTokenRequestUnderConcurrency: a cold start and a revocation, each met by many
// goroutines at once, cost one token request each.
func TestOneTokenRequestUnderConcurrency(t *testing.T) {
	t.Parallel()
	srv, base := testsupport.StartSim(t, simOptions())
	conv, _ := register(t, srv, nil)
	c, _ := testClient(t, base, nil)
	ctx := ctxT(t)

	burst := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				if _, err := c.GetConversation(ctx, conv); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("call failed: %v", err)
		}
	}

	burst()
	if n := srv.Counts().TokenRequests; n != 1 {
		t.Fatalf("%d token requests on a cold start, want 1", n)
	}
	if n := srv.RevokeTokens(); n != 1 {
		t.Fatalf("revoked %d tokens", n)
	}
	burst()
	counts := srv.Counts()
	if counts.TokenRequests != 2 {
		t.Fatalf("%d token requests after a revocation, want 2", counts.TokenRequests)
	}
	if counts.Unauthorized < 1 {
		t.Errorf("revoked token was never refused: %+v", counts)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	opts := simOptions()
	opts.TokenLifetime = time.Second
	srv, base := testsupport.StartSim(t, opts)
	conv, _ := register(t, srv, nil)
	c, _ := testClient(t, base, nil)
	ctx := ctxT(t)
	testsupport.Eventually(t, 10*time.Second, func() bool {
		if _, err := c.GetConversation(ctx, conv); err != nil {
			t.Fatalf("call failed: %v", err)
		}
		return srv.Counts().TokenRequests >= 3
	}, "token never refreshed")
	if n := srv.Counts().Unauthorized; n != 0 {
		t.Errorf("%d calls sent with an expired token", n)
	}
}

func TestSimBadCredentials(t *testing.T) {
	t.Parallel()
	_, base := testsupport.StartSim(t, simOptions())
	c, _ := testClient(t, base, func(cfg *genesys.Config, _ *genesys.Options) {
		cfg.ClientSecret = "wrong"
	})
	_, err := c.GetConversation(ctxT(t), "c")
	var apiErr *genesys.APIError
	if genesys.Classify(err) != genesys.ClassAuth || !errors.As(err, &apiErr) ||
		!apiErr.Login || apiErr.Code != "invalid_client" {
		t.Fatalf("class %v for %v", genesys.Classify(err), err)
	}
}

func TestSimFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		faults sim.Faults
		class  genesys.Class
		calls  int
		check  func(t *testing.T, err error, counts sim.Counts)
	}{
		{
			name: "rate limit", faults: sim.Faults{RateLimitPerMinute: 2},
			class: genesys.ClassRateLimited, calls: 3,
			check: func(t *testing.T, err error, counts sim.Counts) {
				if d := genesys.RetryAfter(err); d <= 0 || d > time.Minute {
					t.Errorf("retry after %v", d)
				}
				if counts.RateLimited != 1 {
					t.Errorf("counts %+v", counts)
				}
			},
		},
		{
			name: "errors", faults: sim.Faults{ErrorRate: 1}, class: genesys.ClassTransient,
			calls: 1,
			check: func(t *testing.T, err error, counts sim.Counts) {
				var apiErr *genesys.APIError
				if !errors.As(err, &apiErr) || (apiErr.Status != 500 && apiErr.Status != 503) {
					t.Errorf("error %v", err)
				}
			},
		},
		{
			name: "hang", faults: sim.Faults{HangRate: 1}, class: genesys.ClassTransient,
			calls: 1,
			check: func(t *testing.T, _ error, counts sim.Counts) {
				if counts.Hung != 1 {
					t.Errorf("counts %+v", counts)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, base := testsupport.StartSim(t, simOptions())
			conv, _ := register(t, srv, nil)
			if err := srv.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			c, _ := testClient(t, base, func(cfg *genesys.Config, _ *genesys.Options) {
				cfg.Timeout = 300 * time.Millisecond
			})
			var err error
			for range tc.calls {
				_, err = c.GetConversation(ctxT(t), conv)
			}
			if genesys.Classify(err) != tc.class {
				t.Fatalf("class %v for %v", genesys.Classify(err), err)
			}
			tc.check(t, err, srv.Counts())
		})
	}
}
