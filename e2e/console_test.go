package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/genesys/sim"
	"github.com/scriptsync/scriptsync/internal/adminapi"
	"github.com/scriptsync/scriptsync/internal/app"
	"github.com/scriptsync/scriptsync/internal/console"
	"github.com/scriptsync/scriptsync/internal/ops"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

const consoleToken = "e2e-console-token-0123456789"

// screenshotsEnv, set to 1, makes the console test write its screenshots to docs/images.
const screenshotsEnv = "SCRIPTSYNC_SCREENSHOTS"

// chromiumPath finds Debian's Chromium. Without it the test fails in CI, which installs
// it, and is skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SCRIPTSYNC_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	const msg = "chromium is not installed (apt-get install chromium, or set " +
		"SCRIPTSYNC_CHROMIUM to its path)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + ": the console's browser test cannot run, and CI must run it")
	}
	t.Skip(msg)
	return ""
}

// consoleStack is a stack with one process's admin listener: the admin API and the
// console over its own ingest and worker, as scriptsync dev serves them.
type consoleStack struct {
	*stack
	worker    workerHandle
	ingestURL string
	adminURL  string
}

func startConsoleStack(t *testing.T) *consoleStack {
	t.Helper()
	s := start(t, sim.Options{}, func(c *config.Config) {
		c.Lookup.File.PollInterval = 20 * time.Millisecond
		c.Worker.Retry.NotReady.Window = time.Second
	})
	cs := &consoleStack{stack: s, worker: s.startWorkerWith(t, nil)}

	// An ingest of its own, so the console reads its counters as it would in the process.
	ctx, cancel := context.WithCancel(context.Background())
	ingestReg := prometheus.NewRegistry()
	srv, _, err := app.Ingest(ctx, &s.cfg, s.conn, ingestReg, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cs.ingestURL = "http://" + srv.Addr() + "/v1/events"
	ingestDone := make(chan error, 1)
	go func() { ingestDone <- srv.Run(ctx) }()

	mux := http.NewServeMux()
	api, err := adminapi.New(adminapi.Options{Ops: s.opsService(), Token: consoleToken,
		ReplayRate: 50, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	mux.Handle(adminapi.Prefix, api)
	c := console.Start(ctx, mux, console.Options{JS: s.conn.JS, Stream: s.cfg.Stream,
		DeadLetter: s.cfg.Worker.DeadLetter, Consumer: s.cfg.Worker.Consumer,
		Gatherer: prometheus.Gatherers{ingestReg, cs.worker.reg}, Token: consoleToken,
		Interval: 500 * time.Millisecond, Window: time.Minute,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	admin := httptest.NewServer(mux)
	cs.adminURL = admin.URL
	t.Cleanup(func() {
		admin.Close()
		cancel()
		<-c.Done()
		if err := <-ingestDone; err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
	return cs
}

func (cs *consoleStack) post(t *testing.T, body []byte) {
	t.Helper()
	resp, err := http.Post(cs.ingestURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest answered %d", resp.StatusCode)
	}
}

// overviewPoints is how many points the overview has, read over the API.
func (cs *consoleStack) overviewPoints(t *testing.T) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, cs.adminURL+"/admin/v1/overview", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+consoleToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Points []json.RawMessage `json:"points"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return len(body.Points)
}

// traffic posts events that apply, in a few bursts each a sample apart, so the overview
// has something to draw.
func (cs *consoleStack) traffic(t *testing.T, bursts int) {
	t.Helper()
	if _, err := cs.sim.RegisterConversation(sim.ConversationSpec{ID: "calm",
		Participants: []sim.ParticipantSpec{{ID: "calm-agent", Purpose: "agent"}}}); err != nil {
		t.Fatal(err)
	}
	for b := range bursts {
		for i := range 3 + 2*(b%3) {
			cs.post(t, flat(fmt.Sprintf("calm-%d-%d", b, i), "calm", "calm-agent",
				fmt.Sprintf("+1415556%04d", i), fmt.Sprintf("step-%d", b)))
		}
		n := cs.overviewPoints(t)
		testsupport.Eventually(t, 5*time.Second, func() bool { return cs.overviewPoints(t) > n },
			"the console takes another sample")
	}
}

// deadSequence finds the dead-letter sequence of an event.
func (cs *consoleStack) deadSequence(t *testing.T, eventID string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	page, err := cs.opsService().List(ctx, ops.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Entries {
		if e.EventID == eventID {
			return e.Sequence
		}
	}
	t.Fatalf("no dead letter for event %s", eventID)
	return 0
}

// browse starts a headless Chromium with a fresh profile; the context ends with the test.
func browse(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	// Start the browser and open the tab on this context, so the steps' shorter contexts
	// derived from it do not own them.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// page drives the console in the browser; every step fails the test on error.
type page struct {
	t   *testing.T
	ctx context.Context
}

// stepTimeout bounds each step in the browser.
const stepTimeout = 20 * time.Second

func (p page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

func (p page) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// waitFor polls a JavaScript expression in the page until it is true, for at most
// stepTimeout.
func (p page) waitFor(what, expr string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		p.t.Fatalf("wait for %s: %v", what, err)
	}
}

func (p page) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot writes the page to docs/images/console-<name>.png when SCRIPTSYNC_SCREENSHOTS
// is 1.
func (p page) screenshot(name string) {
	p.t.Helper()
	if os.Getenv(screenshotsEnv) != "1" {
		return
	}
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "docs", "images", "console-"+name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil { //nolint:gosec // a public image
		p.t.Fatal(err)
	}
	p.t.Logf("wrote %s", path)
}

// confirm accepts the open confirmation dialog, waits for the operation to end, checks
// what it says it did, and closes the dialog.
func (p page) confirm(want string) {
	p.t.Helper()
	p.waitFor("the confirmation", `document.getElementById('confirm').open && `+
		`!document.getElementById('confirm-ok').disabled`)
	p.do("confirm", chromedp.Click(chromedp.ID("confirm-ok")))
	p.waitFor("the operation's end", `document.getElementById('confirm-ok').textContent === 'Close'`)
	if got := p.text("#confirm-status"); !strings.Contains(got, want) {
		p.t.Fatalf("the dialog says %q, want %q", got, want)
	}
	p.do("close the dialog", chromedp.Click(chromedp.ID("confirm-ok")))
	p.waitFor("the dialog to close", `!document.getElementById('confirm').open`)
}

// markupStep is a step id a hostile sender could put in an event: the console must show it
// as text.
const markupStep = `<img src=x onerror="window.__markup=1">`

// TestConsoleReplaysDeadLetters: four events are dead-lettered for two reasons; in the
// browser the operator signs in with the token, finds them grouped by reason, opens one,
// reveals its phone number, and once the faults are fixed replays it from its page, one
// more by selection and one by filter, and deletes the last. The attributes land in the
// simulator, the list is empty, and the search finds the event and its replay.
func TestConsoleReplaysDeadLetters(t *testing.T) {
	ctx := browse(t)
	cs := startConsoleStack(t)
	registerFixtures(t, cs.stack, 0)

	// Two events whose lookup record is too long for Genesys, two for conversations the
	// simulator does not know yet.
	cs.post(t, flat("console-1", fixtureConv, fixtureAgent, "+14155550666", "s1"))
	cs.post(t, flat("console-2", fixtureConv, fixtureAgent, "+14155550666", "s2"))
	cs.post(t, flat("console-3", "conv-late", "p-late", "+14155550123", "s1"))
	cs.post(t, flat("console-4", "conv-gone", "p-gone", "+14155550199", markupStep))
	cs.traffic(t, 12)
	testsupport.Eventually(t, 15*time.Second, func() bool { return cs.deadCount(t) == 4 },
		"four dead letters (have %d)", cs.deadCount(t))
	seq1 := cs.deadSequence(t, "console-1")
	seq2 := cs.deadSequence(t, "console-2")
	seq3 := cs.deadSequence(t, "console-3")
	seq4 := cs.deadSequence(t, "console-4")

	p := page{t: t, ctx: ctx}
	p.do("open the console",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(cs.adminURL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), consoleToken),
		chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-card="lag"]`)))
	if got := p.eval(`location.href + '|' + document.cookie`); strings.Contains(got,
		consoleToken) {
		t.Fatalf("the token is in the address or a cookie: %s", got)
	}
	p.waitFor("the overview's dead letters",
		`document.querySelector('[data-value="dead-letters"]')?.textContent === '4' && `+
			`document.querySelectorAll('.spark-line').length >= 3`)
	p.screenshot("overview")

	// The list, grouped by reason.
	p.do("open the list", chromedp.Click(chromedp.CSS(`#nav a[data-page="dead-letters"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-group="permanent"]`)))
	if a, b := p.text(`[data-count="permanent"]`), p.text(`[data-count="not_ready"]`); a != "2" ||
		b != "2" {
		t.Fatalf("counts: permanent %s, not_ready %s", a, b)
	}
	p.screenshot("list")

	// One entry: masked, then revealed.
	p.do("open an entry", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[data-open="%d"]`, seq3))),
		chromedp.WaitVisible(chromedp.ID("correlation-id")))
	masked := strings.Repeat("*", len("tel:+14155550123")-2) + "23"
	if got := p.text(`[data-field="ani"]`); got != masked {
		t.Fatalf("the phone number shows as %q before it is revealed", got)
	}
	if p.text("#detail-reason") != event.ReasonNotReady || p.text("#event-id") != "console-3" ||
		!strings.Contains(p.text("#attempts"), "attempts over") {
		t.Fatalf("detail: %s %s %s", p.text("#detail-reason"), p.text("#event-id"),
			p.text("#attempts"))
	}
	p.screenshot("detail")
	p.do("reveal", chromedp.Click(chromedp.ID("reveal")))
	p.waitFor("the revealed number",
		`document.querySelector('[data-field="ani"]')?.textContent === 'tel:+14155550123'`)

	// Fix both faults: the conversation that was not there, and the record.
	if _, err := cs.sim.RegisterConversation(sim.ConversationSpec{ID: "conv-late",
		Participants: []sim.ParticipantSpec{{ID: "p-late", Purpose: "customer"}}}); err != nil {
		t.Fatal(err)
	}
	reloads := cs.worker.fileReloads(t)
	fixed := strings.Replace(records(), strings.Repeat("x", 300), "platinum", 1)
	if err := os.WriteFile(cs.cfg.Lookup.File.Path, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 10*time.Second, func() bool {
		return cs.worker.fileReloads(t) > reloads
	}, "the worker reloads the fixed lookup file")

	// Replay this entry from its page.
	p.do("replay the entry", chromedp.Click(chromedp.ID("replay-one")))
	p.confirm("1 event replayed")
	p.waitFor("the list without it", fmt.Sprintf(`location.hash === '#/dead-letters' && `+
		`!!document.querySelector('[data-group]') && `+
		`!document.querySelector('[data-seq="%d"]')`, seq3))
	testsupport.Eventually(t, 10*time.Second, func() bool {
		return cs.attributes("conv-late", "p-late")["cust_tier"] == "gold"
	}, "the replayed event's attributes land: %v", cs.attributes("conv-late", "p-late"))

	// A permanent one by selection.
	p.do("select one", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-select="%d"]`, seq1))),
		chromedp.Click(chromedp.ID("replay-selected")))
	p.confirm("1 event replayed")

	// The other by filter.
	p.waitFor("the list after the replay", fmt.Sprintf(
		`!document.querySelector('[data-seq="%d"]') && !!document.getElementById('filters')`,
		seq1))
	p.do("filter by reason",
		chromedp.SetValue(chromedp.ID("filter-reason"), event.ReasonPermanent),
		chromedp.Click(chromedp.ID("filter-apply")),
		chromedp.WaitVisible(chromedp.CSS(`[data-count="permanent"]`)))
	p.waitFor("the filtered list", fmt.Sprintf(
		`document.querySelector('[data-count="permanent"]')?.textContent === '1' && `+
			`!!document.querySelector('[data-seq="%d"]') && `+
			`!document.querySelector('[data-group="not_ready"]')`, seq2))
	p.do("replay what matches", chromedp.Click(chromedp.ID("replay-matching")))
	p.confirm("1 event replayed")
	testsupport.Eventually(t, 10*time.Second, func() bool {
		return cs.attributes(fixtureConv, fixtureAgent)["cust_tier"] == "platinum"
	}, "the replayed events' attributes land: %v", cs.attributes(fixtureConv, fixtureAgent))

	// A payload field holding markup is shown as text, never run or rendered.
	p.do("clear the filter", chromedp.Navigate(cs.adminURL+"/console/#/dead-letters"))
	p.do("open the entry with markup",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[data-open="%d"]`, seq4))),
		chromedp.WaitVisible(chromedp.ID("correlation-id")))
	if got := p.text(`[data-field="stepId"]`); got != markupStep {
		t.Fatalf("the step id shows as %q, want the markup as text", got)
	}
	if got := p.eval(`String(window.__markup) + '|' + document.querySelectorAll('img').length`); got !=
		"undefined|0" {
		t.Fatalf("markup from the event was rendered (run flag and img count: %s)", got)
	}

	// Delete the one whose conversation never comes.
	p.do("back to the list", chromedp.Navigate(cs.adminURL+"/console/#/dead-letters"))
	p.waitFor("the last entry", fmt.Sprintf(`!!document.querySelector('[data-select="%d"]')`,
		seq4))
	p.do("select and delete", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-select="%d"]`,
		seq4))), chromedp.Click(chromedp.ID("delete-selected")))
	p.confirm("1 entry deleted")
	p.do("the list is empty", chromedp.WaitVisible(chromedp.ID("no-dead-letters")))

	cs.waitSettled(t, 10*time.Second)
	if n := cs.deadCount(t); n != 0 {
		t.Fatalf("%d entries left in the dead-letter stream", n)
	}

	// The search finds the late conversation's event and its replay, and no dead letter.
	p.do("search", chromedp.Navigate(cs.adminURL+"/console/#/search?conversation_id=conv-late"),
		chromedp.WaitVisible(chromedp.ID("search-events")),
		chromedp.WaitVisible(chromedp.ID("search-no-dead")))
	if n := p.eval(`String(document.querySelectorAll('#search-events tbody tr').length)`); n != "2" {
		t.Fatalf("the search shows %s events, want the event and its replay", n)
	}
	p.screenshot("search")
	if _, err := strconv.Atoi(p.text(`#search-events tbody tr td`)); err != nil {
		t.Fatalf("search rows: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}
