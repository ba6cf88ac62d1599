package lookup

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/testsupport"
)

func TestMapping(t *testing.T) {
	t.Parallel()
	rec := map[string]string{"name": "Ada", "tier": "Gold", "blank": "", "plan": "pro"}
	ev := callEvent(adaANI, graceID)
	tests := []struct {
		name string
		attr config.LookupAttribute
		rec  map[string]string
		want string // "" means the attribute is not written
	}{
		{"rename", config.LookupAttribute{Field: "name"}, rec, "Ada"},
		{"constant", config.LookupAttribute{Value: "scriptsync"}, rec, "scriptsync"},
		{"upper", config.LookupAttribute{Field: "tier", Transform: "upper"}, rec, "GOLD"},
		{"lower", config.LookupAttribute{Field: "tier", Transform: "lower"}, rec, "gold"},
		{"empty is not written", config.LookupAttribute{Field: "blank"}, rec, ""},
		{"default when empty", config.LookupAttribute{Field: "blank", Default: "n/a"}, rec,
			"n/a"},
		{"default when absent", config.LookupAttribute{Field: "missing", Default: "n/a"}, rec,
			"n/a"},
		{"default when no record", config.LookupAttribute{Field: "name", Default: "n/a"}, nil,
			"n/a"},
		{"value kept over default", config.LookupAttribute{Field: "name", Default: "n/a"},
			rec, "Ada"},
		{"event value", config.LookupAttribute{Event: "queueId"}, rec, queueID},
		{"event value written event.name", config.LookupAttribute{Event: "event.queueId"},
			rec, queueID},
		{"event phone in E.164", config.LookupAttribute{Event: "ani"}, rec, adaE164},
		{"event value without a record", config.LookupAttribute{Event: "queueId"}, nil,
			queueID},
		{"normalized event fields", config.LookupAttribute{
			Format: "{{event.id}}/{{event.type}}/{{event.conversationId}}/" +
				"{{event.participantId}}/{{event.eventTime}}"}, rec,
			"evt-1/customer.start/conv-1/part-1/2026-12-03T16:00:00.123Z"},
		{"format", config.LookupAttribute{Format: "{{name}} ({{tier|upper}}) {{plan|upper}}"},
			rec, "Ada (GOLD) PRO"},
		{"format with event fields", config.LookupAttribute{
			Format: "{{name}} via {{event.mediaType|lower}} from {{event.ani|digits}}"}, rec,
			"Ada via voice from 14155550123"},
		{"format with every record field empty", config.LookupAttribute{
			Format: "{{blank}} ({{missing}})", Default: "unknown"}, rec, "unknown"},
		{"format then transform", config.LookupAttribute{Format: "{{name}}-{{plan}}",
			Transform: "upper"}, rec, "ADA-PRO"},
	}
	fields := []string{"name", "tier", "blank", "plan", "missing"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.attr.Name = "Out"
			m, err := compileMapping([]config.LookupAttribute{tt.attr},
				newCompiler(nil, fields))
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, ok := m.apply(ev, tt.rec)["Out"]
			if tt.want == "" && ok {
				t.Errorf("Out = %q, want it not written", got)
			} else if got != tt.want {
				t.Errorf("Out = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"tel:+14155550123":                "+14155550123",
		"TEL:+14155550123":                "+14155550123",
		"+14155550123":                    "+14155550123",
		" tel:+1 (415) 555-0123 ":         "+14155550123",
		"tel:+1.415.555.0123;ext=12":      "+14155550123",
		"sip:+14155550123@10.0.0.1":       "+14155550123",
		"sips:+14155550123@edge;user=tel": "+14155550123",
		"4155550123":                      "4155550123",
		"sip:agent@example.com":           "sip:agent@example.com",
		"customer@example.com":            "customer@example.com",
		"tel:":                            "tel:",
		"":                                "",
		"+":                               "+",
		"1+2":                             "1+2",
	} {
		if got := normalizePhone(in); got != want {
			t.Errorf("normalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeyTemplates(t *testing.T) {
	t.Parallel()
	c := newCompiler([]string{"accountNumber"}, nil)
	ev := callEvent(adaANI, "")
	ev.Fields["accountNumber"] = "A/1 2"
	for _, tt := range []struct {
		src, want string
		escape    bool
	}{
		{"customer:{{ani}}", "customer:+14155550123", false},
		{"customer:{{ ani | digits }}", "customer:14155550123", false},
		{"acct:{{accountNumber}}", "acct:A/1 2", false},
		{"acct:{{accountNumber|lower}}", "acct:a%2F1%202", true},
		{"customer:{{event.ani}}", "customer:%2B14155550123", true},
		{"plain", "plain", false},
	} {
		tmpl, err := c.compile("lookup.keys[0]", tt.src, scopeEvent)
		if err != nil {
			t.Fatalf("compile %q: %v", tt.src, err)
		}
		if got, r := tmpl.render(ev, nil, tt.escape); got != tt.want || r.emptyRef {
			t.Errorf("render %q = %q (empty %v), want %q", tt.src, got, r.emptyRef, tt.want)
		}
	}
	tmpl, err := c.compile("k", "contact:{{externalContactId}}", scopeEvent)
	if err != nil {
		t.Fatal(err)
	}
	if _, r := tmpl.render(ev, nil, false); !r.emptyRef {
		t.Errorf("a key over a missing field should report the empty placeholder")
	}
}

// TestBadConfig checks that every mistake is refused when the lookup starts, with the
// setting's YAML path and the name at fault in the message.
func TestBadConfig(t *testing.T) {
	t.Parallel()
	attr := func(a config.LookupAttribute) func(*config.Lookup) {
		return func(c *config.Lookup) {
			c.RecordFields = []string{"cust_tier"}
			c.Attributes = []config.LookupAttribute{a}
		}
	}
	tests := []struct {
		name   string
		change func(*config.Lookup)
		want   []string
	}{
		{"unknown event field in a key", func(c *config.Lookup) {
			c.Keys = []string{"customer:{{ani}}", "customer:{{anii}}"}
		}, []string{"lookup.keys[1]", `unknown event field "anii"`, "customer:{{anii}}"}},
		{"unknown filter", func(c *config.Lookup) { c.Keys = []string{"c:{{ani|title}}"} },
			[]string{"lookup.keys[0]", `unknown filter "title"`}},
		{"unclosed placeholder", func(c *config.Lookup) { c.Keys = []string{"c:{{ani"} },
			[]string{"lookup.keys[0]", "unclosed"}},
		{"empty placeholder", func(c *config.Lookup) { c.Keys = []string{"c:{{ }}"} },
			[]string{"lookup.keys[0]", "empty placeholder"}},
		{"no keys", func(c *config.Lookup) { c.Keys = nil }, []string{"lookup.keys"}},
		{"unknown record field", attr(config.LookupAttribute{Name: "T", Field: "cust_teir"}),
			[]string{"lookup.attributes[0].field", `"cust_teir"`, "lookup.record_fields"}},
		{"unknown record field in a format", attr(config.LookupAttribute{Name: "T",
			Format: "{{cust_tier}} {{customer_nam}}"}),
			[]string{"lookup.attributes[0].format", `"customer_nam"`}},
		{"unknown event field in a format", attr(config.LookupAttribute{Name: "T",
			Format: "{{event.queue}}"}),
			[]string{"lookup.attributes[0].format", `unknown event field "queue"`}},
		{"unknown event field", attr(config.LookupAttribute{Name: "T", Event: "queue_id"}),
			[]string{"lookup.attributes[0].event", `"queue_id"`}},
		{"two origins", attr(config.LookupAttribute{Name: "T", Field: "cust_tier",
			Value: "x"}), []string{"lookup.attributes[0]", "exactly one"}},
		{"no origin", attr(config.LookupAttribute{Name: "T"}),
			[]string{"lookup.attributes[0]", "exactly one"}},
		{"no name", attr(config.LookupAttribute{Value: "x"}),
			[]string{"lookup.attributes[0].name", "required"}},
		{"unknown transform", attr(config.LookupAttribute{Name: "T", Field: "cust_tier",
			Transform: "title"}), []string{"lookup.attributes[0].transform", `"title"`}},
		{"duplicate name", func(c *config.Lookup) {
			c.Attributes = []config.LookupAttribute{{Name: "T", Value: "a"},
				{Name: "T", Value: "b"}}
		}, []string{"lookup.attributes[1].name", `"T" is mapped twice`}},
		{"unknown source", func(c *config.Lookup) { c.Source = "ldap" },
			[]string{"lookup.source", `"ldap"`}},
		{"unknown not-found behaviour", func(c *config.Lookup) { c.OnNotFound = "fail" },
			[]string{"lookup.on_not_found", `"fail"`}},
		{"http url without key", func(c *config.Lookup) {
			c.Source, c.HTTP.URL = config.LookupSourceHTTP, "http://127.0.0.1:1/records"
		}, []string{"lookup.http.url", "{{key}}"}},
		{"http url with another placeholder", func(c *config.Lookup) {
			c.Source = config.LookupSourceHTTP
			c.HTTP.URL = "http://127.0.0.1:1/{{ani}}/{{key}}"
		}, []string{"lookup.http.url", "only {{key}}"}},
		{"http url not http", func(c *config.Lookup) {
			c.Source, c.HTTP.URL = config.LookupSourceHTTP, "ftp://host/{{key}}"
		}, []string{"lookup.http.url", "not an http(s) URL"}},
		{"redis format", func(c *config.Lookup) {
			c.Source, c.Redis.Format = config.LookupSourceRedis, "xml"
		}, []string{"lookup.redis.format", `"xml"`}},
		{"missing file", func(c *config.Lookup) { c.File.Path = "/nonexistent/records.yaml" },
			[]string{"read lookup file", "/nonexistent/records.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.File.Path = examplesPath
			tt.change(&cfg)
			svc, err := New(context.Background(), cfg, Options{})
			if err == nil {
				_ = svc.Close()
				t.Fatalf("New accepted the configuration")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestConfigValidation checks the config package's half of the checks: what needs no
// template parsing fails at load time, named by its YAML path.
func TestConfigValidation(t *testing.T) {
	t.Parallel()
	valid := config.Default()
	if err := valid.Validate(); err != nil && strings.Contains(err.Error(), "lookup.") {
		t.Fatalf("the default lookup settings do not validate: %v", err)
	}
	tests := []struct {
		name   string
		change func(*config.Lookup)
		want   string
	}{
		{"source", func(l *config.Lookup) { l.Source = "ldap" }, "lookup.source"},
		{"keys", func(l *config.Lookup) { l.Keys = nil }, "lookup.keys"},
		{"blank key", func(l *config.Lookup) { l.Keys = []string{" "} }, "lookup.keys[0]"},
		{"on_not_found", func(l *config.Lookup) { l.OnNotFound = "x" }, "lookup.on_not_found"},
		{"timeout", func(l *config.Lookup) { l.Timeout = 0 }, "lookup.timeout"},
		{"cache_ttl", func(l *config.Lookup) { l.CacheTTL = -1 }, "lookup.cache_ttl"},
		{"file path", func(l *config.Lookup) { l.File.Path = "" }, "lookup.file.path"},
		{"attribute origin", func(l *config.Lookup) {
			l.Attributes = []config.LookupAttribute{{Name: "A"}}
		}, "lookup.attributes[0]: set exactly one"},
		{"sentinel without addrs", func(l *config.Lookup) {
			l.Source, l.Redis.MasterName = "redis", "mymaster"
		}, "lookup.redis.addrs"},
		{"sentinel and cluster", func(l *config.Lookup) {
			l.Source, l.Redis.MasterName, l.Redis.Cluster = "redis", "m", true
		}, "lookup.redis.master_name"},
		{"cluster db", func(l *config.Lookup) {
			l.Source, l.Redis.Cluster, l.Redis.Addrs, l.Redis.DB = "redis", true,
				[]string{"10.0.0.1:6379"}, 2
		}, "lookup.redis.db"},
		{"redis addr", func(l *config.Lookup) { l.Source, l.Redis.Addr = "redis", "nohost" },
			"lookup.redis.addr"},
		{"cluster addr", func(l *config.Lookup) {
			l.Source, l.Redis.Cluster, l.Redis.Addrs = "redis", true, []string{"a:1", "b"}
		}, "lookup.redis.addrs[1]"},
		{"redis format", func(l *config.Lookup) { l.Source, l.Redis.Format = "redis", "xml" },
			"lookup.redis.format"},
		{"redis cert without key", func(l *config.Lookup) {
			l.Source, l.Redis.TLS.CertFile = "redis", "c.pem"
		}, "lookup.redis.tls.cert_file"},
		{"http url", func(l *config.Lookup) { l.Source = "http" }, "lookup.http.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			tt.change(&cfg.Lookup)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestExampleRecords checks that the sample file answers the shared fixture events.
func TestExampleRecords(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.File.Path = examplesPath
	svc, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer func() { _ = svc.Close() }()
	for name, want := range map[string]string{
		"notification-user-start.json":    "gold",
		"custom-script-step-entered.json": "gold",
		"eventbridge-customer-start.json": "silver",
	} {
		ev := fixtureEvent(t, name)
		res, err := svc.Lookup(context.Background(), ev)
		if err != nil || !res.Found || res.Attributes["cust_tier"] != want {
			t.Errorf("%s: %+v, %v; want cust_tier %s", name, res, err, want)
		}
	}
	ev := fixtureEvent(t, "eventbridge-customer-start.json")
	delete(ev.Fields, "ani")
	if res, err := svc.Lookup(context.Background(), ev); err != nil || !res.Found {
		t.Errorf("by external contact id: %+v, %v; want found", res, err)
	}
}

func TestLookupErrorsAreClassified(t *testing.T) {
	t.Parallel()
	bad := classify("redis", "customer:{{ani}}", &badRecordError{field: "f", reason: "r"})
	if !errors.Is(bad, ErrPermanent) || errors.Is(bad, ErrTransient) {
		t.Errorf("bad record: %v", bad)
	}
	down := classify("redis", "customer:{{ani}}", context.DeadlineExceeded)
	if !errors.Is(down, ErrTransient) || !errors.Is(down, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", down)
	}
	want := `bad record in lookup store: redis key template "customer:{{ani}}": field "f": r`
	if bad.Error() != want {
		t.Errorf("message %q, want %q", bad, want)
	}
}

// examplesPath is the sample record file shipped for local runs.
const examplesPath = "../examples/lookup.yaml"

// fixtureEvent reads a shared fixture event the way the ingest normalizes it, as far as a
// lookup cares: the body's scalar fields, numbers as their JSON text.
func fixtureEvent(t *testing.T, name string) *event.Event {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(testsupport.Fixture(t, "events/"+name), &env); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	if d, ok := env["detail"]; ok {
		env = nil
		if err := json.Unmarshal(d, &env); err != nil {
			t.Fatalf("fixture %s detail: %v", name, err)
		}
	}
	if b, ok := env["eventBody"]; ok {
		env = nil
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("fixture %s body: %v", name, err)
		}
	}
	ev := &event.Event{ID: name, Fields: map[string]string{}}
	for k, v := range env {
		s, err := jsonScalar(v)
		if err == nil && len(v) > 0 && v[0] != '[' {
			ev.Fields[k] = s
		}
	}
	ev.ConversationID = ev.Fields["conversationId"]
	ev.ParticipantID = ev.Fields["participantId"]
	return ev
}
