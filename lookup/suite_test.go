package lookup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
)

// The numbers below are fictional; the suite checks that none of them reaches an error.
const (
	adaANI     = "tel:+14155550123"
	adaE164    = "+14155550123"
	graceANI   = "tel:+14155550199"
	graceE164  = "+14155550199"
	graceID    = "d6e7f8a9-b0c1-4d2e-9f3a-4b5c6d7e8f9a"
	phoneDigit = "415555"
	queueID    = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
)

func adaRecord() map[string]any {
	return map[string]any{
		"customer_name": "Ada Lovelace",
		"cust_tier":     "gold",
		"open_case":     "CS-10482",
		"account_flags": []any{"vip", "paperless"},
		"balance":       json.Number("1.50"),
		"unused":        "not mapped",
	}
}

func graceRecord() map[string]any {
	return map[string]any{"customer_name": "Grace Hopper", "cust_tier": "silver"}
}

// suiteMapping exercises every kind of entry.
func suiteMapping(cfg *config.Lookup, prefix string) {
	cfg.Keys = []string{prefix + "customer:{{ani}}", prefix + "contact:{{externalContactId}}"}
	cfg.RecordFields = []string{"customer_name", "cust_tier", "open_case", "account_flags",
		"balance"}
	cfg.Attributes = []config.LookupAttribute{
		{Name: "CustomerName", Field: "customer_name"},
		{Name: "Tier", Field: "cust_tier", Transform: "upper", Default: "STANDARD"},
		{Name: "OpenCase", Field: "open_case"},
		{Name: "Flags", Field: "account_flags"},
		{Name: "Balance", Field: "balance"},
		{Name: "Greeting", Format: "{{customer_name}} ({{cust_tier|upper}})"},
		{Name: "Queue", Event: "queueId"},
		{Name: "Origin", Value: "scriptsync"},
	}
}

func callEvent(ani, contactID string) *event.Event {
	f := map[string]string{"mediaType": "VOICE", "queueId": queueID}
	if ani != "" {
		f["ani"] = ani
	}
	if contactID != "" {
		f["externalContactId"] = contactID
	}
	return &event.Event{
		ID: "evt-1", Type: "customer.start", ConversationID: "conv-1",
		ParticipantID: "part-1", EventTime: time.UnixMilli(1796313600123),
		Source: event.SourceNotification, Fields: f,
	}
}

// subject is a Service over a seeded store, with the registry its metrics went to.
type subject struct {
	svc *Service
	reg *prometheus.Registry
	fx  fixture
}

// setup seeds b with data, applies the suite's mapping and any change, and starts a
// Service that the test closes.
func setup(t *testing.T, b backend, data map[string]any,
	change ...func(*config.Lookup)) subject {
	t.Helper()
	fx := b.open(t, data)
	cfg := fx.cfg
	suiteMapping(&cfg, fx.prefix)
	for _, c := range change {
		c(&cfg)
	}
	reg := prometheus.NewRegistry()
	svc, err := New(context.Background(), cfg, Options{Logger: zaptest.NewLogger(t),
		Registerer: reg, Namespace: "test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return subject{svc: svc, reg: reg, fx: fx}
}

func (s subject) lookup(t *testing.T, ev *event.Event) (Result, error) {
	t.Helper()
	return s.svc.Lookup(context.Background(), ev)
}

func (s subject) mustFind(t *testing.T, ev *event.Event) map[string]string {
	t.Helper()
	res, err := s.lookup(t, ev)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if !res.Found {
		t.Fatalf("Lookup found nothing")
	}
	if res.Source != s.fx.cfg.Source {
		t.Errorf("Source = %q, want %q", res.Source, s.fx.cfg.Source)
	}
	return res.Attributes
}

func adaAttributes() map[string]string {
	return map[string]string{
		"CustomerName": "Ada Lovelace", "Tier": "GOLD", "OpenCase": "CS-10482",
		"Flags": "vip,paperless", "Balance": "1.50", "Greeting": "Ada Lovelace (GOLD)",
		"Queue": queueID, "Origin": "scriptsync",
	}
}

// TestSources runs one behaviour suite against every source: what a caller sees must not
// depend on where the records live.
func TestSources(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			runSuite(t, b)
		})
	}
}

func runSuite(t *testing.T, b backend) {
	t.Run("found by the first key, mapped", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: adaRecord()})
		got := s.mustFind(t, callEvent(adaANI, ""))
		if d := diffMaps(adaAttributes(), got); d != "" {
			t.Errorf("attributes (-want +got):\n%s", d)
		}
	})
	t.Run("phone number separators are normalized", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: adaRecord()})
		got := s.mustFind(t, callEvent("tel:+1 (415) 555-0123", ""))
		if got["Tier"] != "GOLD" {
			t.Errorf("Tier = %q, want GOLD", got["Tier"])
		}
	})
	t.Run("falls back to the next key", func(t *testing.T) {
		s := setup(t, b, map[string]any{"contact:" + graceID: graceRecord()})
		got := s.mustFind(t, callEvent(graceANI, graceID))
		if got["CustomerName"] != "Grace Hopper" {
			t.Errorf("CustomerName = %q, want Grace Hopper", got["CustomerName"])
		}
	})
	t.Run("the first key wins", func(t *testing.T) {
		s := setup(t, b, map[string]any{
			"customer:" + graceE164: graceRecord(),
			"contact:" + graceID:    map[string]any{"cust_tier": "bronze"},
		})
		if got := s.mustFind(t, callEvent(graceANI, graceID)); got["Tier"] != "SILVER" {
			t.Errorf("Tier = %q, want SILVER from the first key", got["Tier"])
		}
	})
	t.Run("a key whose field the event lacks is skipped", func(t *testing.T) {
		s := setup(t, b, map[string]any{"contact:" + graceID: graceRecord()})
		if got := s.mustFind(t, callEvent("", graceID)); got["Tier"] != "SILVER" {
			t.Errorf("Tier = %q, want SILVER", got["Tier"])
		}
		res, err := s.lookup(t, callEvent("", ""))
		if err != nil || res.Found || len(res.Attributes) != 0 {
			t.Errorf("event without key fields: %+v, %v; want not found", res, err)
		}
	})
	t.Run("default for an empty field", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: map[string]any{
			"customer_name": "Ada Lovelace", "cust_tier": ""}})
		got := s.mustFind(t, callEvent(adaANI, ""))
		want := map[string]string{"CustomerName": "Ada Lovelace", "Tier": "STANDARD",
			"Greeting": "Ada Lovelace ()", "Queue": queueID, "Origin": "scriptsync"}
		if d := diffMaps(want, got); d != "" {
			t.Errorf("attributes (-want +got):\n%s", d)
		}
	})
	t.Run("not found writes nothing by default", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: adaRecord()})
		res, err := s.lookup(t, callEvent(graceANI, graceID))
		if err != nil || res.Found || len(res.Attributes) != 0 {
			t.Errorf("got %+v, %v; want not found and no attributes", res, err)
		}
	})
	t.Run("not found with defaults", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: adaRecord()},
			func(c *config.Lookup) { c.OnNotFound = config.LookupNotFoundDefaults })
		res, err := s.lookup(t, callEvent(graceANI, graceID))
		if err != nil || res.Found {
			t.Fatalf("got %+v, %v; want not found", res, err)
		}
		want := map[string]string{"Tier": "STANDARD", "Queue": queueID, "Origin": "scriptsync"}
		if d := diffMaps(want, res.Attributes); d != "" {
			t.Errorf("attributes (-want +got):\n%s", d)
		}
	})
	t.Run("records pass through without a mapping", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + graceE164: graceRecord()},
			func(c *config.Lookup) { c.Attributes, c.RecordFields = nil, nil })
		got := s.mustFind(t, callEvent(graceANI, ""))
		want := map[string]string{"customer_name": "Grace Hopper", "cust_tier": "silver"}
		if d := diffMaps(want, got); d != "" {
			t.Errorf("attributes (-want +got):\n%s", d)
		}
	})
	t.Run("a malformed record is permanent", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: malformed(`{"cust_tier": "go`)})
		_, err := s.lookup(t, callEvent(adaANI, ""))
		checkPermanent(t, err, "")
	})
	t.Run("a bad value in a mapped field is permanent", func(t *testing.T) {
		rec := adaRecord()
		rec["cust_tier"] = map[string]any{"level": "gold"}
		s := setup(t, b, map[string]any{"customer:" + adaE164: rec})
		_, err := s.lookup(t, callEvent(adaANI, ""))
		field := ""
		if b.fieldErrors {
			field = "cust_tier"
		}
		checkPermanent(t, err, field)
	})
	if b.fieldErrors {
		t.Run("a bad value in an unmapped field is ignored", func(t *testing.T) {
			rec := adaRecord()
			rec["unused"] = map[string]any{"deep": true}
			s := setup(t, b, map[string]any{"customer:" + adaE164: rec})
			if got := s.mustFind(t, callEvent(adaANI, "")); got["Tier"] != "GOLD" {
				t.Errorf("Tier = %q, want GOLD", got["Tier"])
			}
		})
	}
	t.Run("concurrent lookups", func(t *testing.T) {
		s := setup(t, b, map[string]any{
			"customer:" + adaE164: adaRecord(), "contact:" + graceID: graceRecord()})
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				ev := callEvent(adaANI, "")
				want := "GOLD"
				if g%2 == 1 {
					ev, want = callEvent("", graceID), "SILVER"
				}
				for range 50 {
					res, err := s.svc.Lookup(context.Background(), ev)
					if err == nil && res.Attributes["Tier"] != want {
						err = errors.New("Tier = " + res.Attributes["Tier"] + ", want " + want)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("metrics count outcomes", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: adaRecord()})
		s.mustFind(t, callEvent(adaANI, ""))
		_, _ = s.lookup(t, callEvent(graceANI, ""))
		src := s.fx.cfg.Source
		for outcome, want := range map[string]float64{"found": 1, "not_found": 1,
			"transient": 0, "permanent": 0} {
			got := counterValue(t, s.svc.m.lookups[outcome])
			if got != want {
				t.Errorf("lookups_total{source=%q,outcome=%q} = %v, want %v", src, outcome,
					got, want)
			}
		}
		n := seriesCount(t, s.reg, "test_lookups_total", "test_lookup_duration_seconds")
		if n != 5 {
			t.Errorf("gathered %d series, want 4 outcomes and 1 histogram", n)
		}
	})
	if b.open(t, nil).fail == nil {
		return
	}
	t.Run("a store that is down is transient", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: adaRecord()})
		s.mustFind(t, callEvent(adaANI, ""))
		s.fx.fail("down")
		_, err := s.lookup(t, callEvent(adaANI, ""))
		checkTransient(t, err)
	})
	t.Run("a store that does not answer is transient within the timeout", func(t *testing.T) {
		s := setup(t, b, map[string]any{"customer:" + adaE164: adaRecord()},
			func(c *config.Lookup) { c.Timeout = 200 * time.Millisecond })
		s.mustFind(t, callEvent(adaANI, ""))
		s.fx.fail("stall")
		start := time.Now()
		_, err := s.lookup(t, callEvent(adaANI, ""))
		checkTransient(t, err)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("lookup took %s with a 200ms timeout", d)
		}
	})
}

func checkPermanent(t *testing.T, err error, field string) {
	t.Helper()
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, `customer:{{ani}}`) {
		t.Errorf("error %q does not name the key template", msg)
	}
	if field != "" && !strings.Contains(msg, `"`+field+`"`) {
		t.Errorf("error %q does not name the field %q", msg, field)
	}
	if strings.Contains(msg, phoneDigit) {
		t.Errorf("error %q holds a phone number", msg)
	}
}

func checkTransient(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrTransient) || errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v, want ErrTransient", err)
	}
	if strings.Contains(err.Error(), phoneDigit) {
		t.Errorf("error %q holds a phone number", err)
	}
}

// diffMaps lists the differences between two attribute maps, one per line, or "" when
// they are equal.
func diffMaps(want, got map[string]string) string {
	var lines []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			lines = append(lines, fmt.Sprintf("-%s: %q", k, w))
		} else if g != w {
			lines = append(lines, fmt.Sprintf("-%s: %q\n+%s: %q", k, w, k, g))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("+%s: %q", k, g))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}

// seriesCount counts the series of the named metric families in reg.
func seriesCount(t testing.TB, reg *prometheus.Registry, names ...string) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	n := 0
	for _, f := range families {
		if slices.Contains(names, f.GetName()) {
			n += len(f.GetMetric())
		}
	}
	return n
}
