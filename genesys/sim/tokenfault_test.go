package sim_test

import (
	"strings"
	"testing"

	"github.com/scriptsync/scriptsync/genesys/sim"
)

func TestTokenFault(t *testing.T) {
	t.Parallel()
	srv, anon := start(t, opts())
	api := anon.login()
	token := func() reply {
		return anon.do("POST", "/oauth/token", "grant_type=client_credentials",
			"Content-Type", "application/x-www-form-urlencoded",
			"Authorization", basic("id", "secret"))
	}

	// The admin API turns the login service off: every token request gets a 503 in the
	// OAuth shape, while tokens already issued keep working.
	if r := anon.do("PATCH", "/admin/faults", `{"token_error_rate":1}`); r.status != 200 ||
		!strings.Contains(r.body, `"token_error_rate": 1`) {
		t.Fatalf("set token fault: %d %s", r.status, r.body)
	}
	for range 3 {
		r := token()
		if r.status != 503 || !strings.Contains(r.body, `"error":"temporarily_unavailable"`) {
			t.Fatalf("token during the fault: %d %s", r.status, r.body)
		}
	}
	conv, _ := registerOne(t, srv)
	if r := api.do("GET", "/api/v2/conversations/"+conv, ""); r.status != 200 {
		t.Errorf("a token issued before the fault: %d %s", r.status, r.body)
	}

	// PATCH of another fault keeps it; PUT without it turns it off.
	anon.do("PATCH", "/admin/faults", `{"latency":"1ms"}`)
	if f := srv.Faults(); f.TokenErrorRate != 1 {
		t.Errorf("token fault lost by a PATCH: %+v", f)
	}
	anon.do("PUT", "/admin/faults", `{}`)
	if r := token(); r.status != 200 {
		t.Errorf("token after the fault: %d %s", r.status, r.body)
	}
	c := srv.Counts()
	if c.TokenErrors != 3 || c.TokenRequests != 5 || c.TokensIssued != 2 {
		t.Errorf("counts %+v, want 3 token errors of 5 requests, 2 tokens issued", c)
	}
	if err := srv.SetFaults(sim.Faults{TokenErrorRate: 1.5}); err == nil ||
		!strings.Contains(err.Error(), "token_error_rate") {
		t.Errorf("token_error_rate 1.5: %v", err)
	}
}
