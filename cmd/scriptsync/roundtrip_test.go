package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/ops"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

// TestDLQRoundTripThroughTheCommandLine is the operator's round trip with the commands
// alone: `scriptsync worker` dead-letters an event whose lookup record Genesys would
// refuse, `scriptsync dlq list` shows it with its reason, the record is fixed,
// `scriptsync dlq replay` stores the event again, the attributes land, and the
// dead-letter stream is left empty.
func TestDLQRoundTripThroughTheCommandLine(t *testing.T) {
	f := setupOps(t)
	// The worker, the commands and every wait below share one deadline, longer than the
	// fixture's.
	var cancel context.CancelFunc
	f.ctx, cancel = context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	srv, simURL := testsupport.StartSim(t, sim.Options{
		ClientID: "cli-client", ClientSecret: "cli-secret-0123456789"})
	if _, err := srv.RegisterConversation(sim.ConversationSpec{ID: "conv-1",
		Participants: []sim.ParticipantSpec{{ID: "p-1", Purpose: "customer"}}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	records := filepath.Join(dir, "records.yaml")
	tooLong := strings.Repeat("x", 300) // over Genesys's 256 characters: refused for good
	writeRecord := func(tier string) {
		t.Helper()
		rec := fmt.Sprintf("\"customer:%s\": {cust_tier: %q}\n", phone, tier)
		if err := os.WriteFile(records, []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeRecord(tooLong)
	cfgPath := filepath.Join(dir, "scriptsync.yaml")
	cfgFile := fmt.Sprintf(`metrics: {addr: ""}
log: {level: warn}
genesys: {login_url: %q, api_url: %q, client_id: cli-client}
lookup:
  file: {path: %q, poll_interval: 20ms}
`, simURL, simURL, records)
	if err := os.WriteFile(cfgPath, []byte(cfgFile), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{config.EnvConfigFile + "=" + cfgPath,
		"SCRIPTSYNC_GENESYS_CLIENT_SECRET=cli-secret-0123456789"}
	for _, kv := range f.environ {
		if !strings.HasPrefix(kv, config.EnvConfigFile+"=") {
			environ = append(environ, kv)
		}
	}
	f.environ = environ

	ctx, stop := context.WithCancel(f.ctx)
	var workerErr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"worker"}, environ, &bytes.Buffer{}, &workerErr) }()
	t.Cleanup(func() {
		stop()
		if code := <-done; code != 0 {
			t.Errorf("worker exited %d: %s", code, workerErr.String())
		}
	})

	f.publishEvent(t, testEvent("e1", "conv-1"))
	var page ops.Page
	testsupport.Eventually(t, 15*time.Second, func() bool {
		code, out, _ := f.run(t, "dlq", "list", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &page) == nil && len(page.Entries) == 1
	}, "dlq list shows the dead letter")
	if e := page.Entries[0]; e.EventID != "e1" || e.Reason != event.ReasonPermanent {
		t.Fatalf("listed entry: %+v", e)
	}
	code, out, _ := f.run(t, "dlq", "list")
	if code != 0 || !strings.Contains(out, event.ReasonPermanent) ||
		!strings.Contains(out, "conv-1") {
		t.Fatalf("dlq list: %d\n%s", code, out)
	}

	writeRecord("gold")
	// Replay until the fixed record is read: a replay that runs before the worker
	// reloads the file only fails and comes back to the dead letters once more.
	attrs := func() map[string]string {
		c, _ := srv.Conversation("conv-1")
		return c.Participants[0].Attributes
	}
	testsupport.Eventually(t, 20*time.Second, func() bool {
		if attrs()["cust_tier"] == "gold" {
			return true
		}
		code, out, errOut := f.run(t, "dlq", "replay", "--reason", event.ReasonPermanent)
		if code != 0 {
			t.Fatalf("dlq replay: %d %s\n%s", code, errOut, out)
		}
		time.Sleep(200 * time.Millisecond)
		return attrs()["cust_tier"] == "gold"
	}, "the replayed event's attributes land: %v", attrs())

	testsupport.Eventually(t, 10*time.Second, func() bool {
		code, out, _ := f.run(t, "dlq", "list", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &page) == nil && len(page.Entries) == 0
	}, "the dead-letter stream is empty")
}
