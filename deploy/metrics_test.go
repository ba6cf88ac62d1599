package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/genesys"
	"github.com/scriptsync/scriptsync/ingest"
	"github.com/scriptsync/scriptsync/lookup"
	"github.com/scriptsync/scriptsync/worker"
)

// metricKind is what a family exposes beyond its own name.
type metricKind int

const (
	plain     metricKind = iota
	histogram            // also _bucket, _sum and _count
	summary              // also _sum and _count
)

// exporterMetrics are the series of the NATS Prometheus exporter run with -jsz=all
// -prefix=nats, as in docker-compose.yml and the NATS Helm chart's promExporter. Only the
// ones the rules and the dashboard may use are listed.
var exporterMetrics = map[string]metricKind{
	"nats_consumer_num_pending":     plain,
	"nats_consumer_num_ack_pending": plain,
	"nats_consumer_num_redelivered": plain,
	"nats_consumer_num_waiting":     plain,
	"nats_stream_total_messages":    plain,
	"nats_stream_total_bytes":       plain,
}

// recorder registers collectors on a registry and remembers them, because a vector with
// no series yet is absent from Gather but present in Describe.
type recorder struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// names returns every metric family the recorded collectors describe and the registry
// gathers, with its kind.
func (r *recorder) names(t *testing.T, into map[string]metricKind) {
	t.Helper()
	for _, c := range r.collectors {
		// A vector's kind shows in its type; a single histogram or summary always has
		// its series, and Gather below gives its kind.
		kind := plain
		switch c.(type) {
		case *prometheus.HistogramVec:
			kind = histogram
		case *prometheus.SummaryVec:
			kind = summary
		}
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			into[m[1]] = kind
		}
	}
	families, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			into[f.GetName()] = histogram
		case dto.MetricType_SUMMARY:
			into[f.GetName()] = summary
		default:
			into[f.GetName()] = plain
		}
	}
}

// registeredMetrics builds every part of scriptsync that registers metrics, on registries
// of its own as the processes do, and returns the names they export.
func registeredMetrics(t *testing.T) map[string]metricKind {
	t.Helper()
	cfg := config.Default()
	ns := cfg.Metrics.Namespace
	out := map[string]metricKind{}

	proc := &recorder{Registry: prometheus.NewRegistry()}
	proc.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ingest.NewMetrics(proc, ns)
	worker.New(worker.Options{Config: cfg.Worker, Stream: cfg.Stream, Logger: zap.NewNop(),
		Registerer: proc, Namespace: ns})
	// The client contacts nothing until its first call.
	gc := genesys.Config{LoginURL: "http://127.0.0.1:9", APIURL: "http://127.0.0.1:9",
		ClientID: "id", ClientSecret: "secret"}
	if _, err := genesys.New(gc, genesys.Options{Registerer: proc, Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "lookup.yaml")
	record := []byte("\"customer:+14155550123\": {tier: gold}\n")
	if err := os.WriteFile(file, record, 0o600); err != nil {
		t.Fatal(err)
	}
	lc := cfg.Lookup
	lc.File.Path = file
	openLookup(t, lc, proc, ns)
	proc.names(t, out)

	// The cache's counter exists only for remote sources with a cache: an http source,
	// which contacts nothing until the first lookup, on a registry of its own.
	remote := &recorder{Registry: prometheus.NewRegistry()}
	lc = cfg.Lookup
	lc.Source = config.LookupSourceHTTP
	lc.HTTP.URL = "http://127.0.0.1:9/records/{{key}}"
	lc.CacheTTL = cfg.Lookup.Timeout
	openLookup(t, lc, remote, ns)
	remote.names(t, out)
	return out
}

func openLookup(t *testing.T, c config.Lookup, reg prometheus.Registerer, ns string) {
	t.Helper()
	lk, err := lookup.New(t.Context(), c, lookup.Options{Registerer: reg, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lk.Close() })
}

// metricToken finds the names in a PromQL expression that belong to scriptsync, the Go
// and process collectors of its registry, or the NATS exporter.
var metricToken = regexp.MustCompile(`\b(?:scriptsync|go|process|nats)_[a-zA-Z0-9_:]*`)

// quoted and matchers are removed before looking for names: label values and matchers may
// hold anything.
var (
	quoted   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	matchers = regexp.MustCompile(`\{[^{}]*\}`)
)

func exprMetrics(expr string) []string {
	expr = matchers.ReplaceAllString(quoted.ReplaceAllString(expr, `""`), "{}")
	return metricToken.FindAllString(expr, -1)
}

// knownMetric reports whether name is exported, directly or as a histogram's or
// summary's series.
func knownMetric(name string, have map[string]metricKind) bool {
	if _, ok := have[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		kind, found := have[base]
		if found && (kind == histogram || (kind == summary && suffix != "_bucket")) {
			return true
		}
	}
	return false
}

func TestExprMetrics(t *testing.T) {
	got := exprMetrics(`histogram_quantile(0.9, sum by (le) (rate(` +
		`scriptsync_a_seconds_bucket{job="scriptsync_fake", x=~"go_.*"}[5m]))) / ` +
		`nats_consumer_num_pending{consumer_name="scriptsync-worker"} + up`)
	want := []string{"scriptsync_a_seconds_bucket", "nats_consumer_num_pending"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("exprMetrics = %v, want %v", got, want)
	}
	have := map[string]metricKind{"h": histogram, "s": summary, "c_total": plain}
	for name, want := range map[string]bool{"h_bucket": true, "h_sum": true, "s_count": true,
		"s_bucket": false, "c_total": true, "c_total_sum": false, "c": false} {
		if knownMetric(name, have) != want {
			t.Errorf("knownMetric(%s) = %v", name, !want)
		}
	}
}

type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertsNameRegisteredMetrics fails when a rule names a metric no part of scriptsync
// registers (a renamed metric, a typo) or the exporter does not export, when a rule has
// no runbook section in docs/operations.md, or names another consumer than the workers'.
func TestAlertsNameRegisteredMetrics(t *testing.T) {
	have := registeredMetrics(t)
	var rules alertRules
	decodeFile(t, "prometheus/alerts.yml", &rules)
	runbooks := headingAnchors(t, filepath.Join(root, "docs", "operations.md"))
	want := map[string]bool{"ScriptsyncDeadLettersGrowing": false,
		"ScriptsyncConsumerLagHigh": false, "ScriptsyncGenesysRateLimited": false,
		"ScriptsyncTokenFetchFailing": false, "ScriptsyncIngestErrors": false,
		"ScriptsyncNotReadyRetriesSurging": false}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			want[r.Alert] = true
			checkExpr(t, "alert "+r.Alert, r.Expr, have)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("alert %s: severity %q is not warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: needs a summary and a description", r.Alert)
			}
			_, anchor, _ := strings.Cut(r.Annotations["runbook"], "#")
			if !runbooks[anchor] {
				t.Errorf("alert %s: runbook %q is not a section of docs/operations.md",
					r.Alert, r.Annotations["runbook"])
			}
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("alerts.yml has no rule %s", name)
		}
	}
	if n == 0 {
		t.Fatal("alerts.yml has no rules")
	}
}

type dashboard struct {
	UID    string  `json:"uid"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// TestDashboardNamesRegisteredMetrics is the alerts' test for every panel of the dashboard.
func TestDashboardNamesRegisteredMetrics(t *testing.T) {
	have := registeredMetrics(t)
	data, err := os.ReadFile("grafana/dashboards/scriptsync.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("scriptsync.json: %v", err)
	}
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	decodeFile(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 {
		t.Fatalf("want one provisioned datasource, have %d", len(ds.Datasources))
	}
	exprs := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != ds.Datasources[0].UID {
				t.Errorf("panel %q: datasource is not the provisioned %q", p.Title,
					ds.Datasources[0].UID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs++
				checkExpr(t, "panel "+p.Title, tg.Expr, have)
			}
		}
	}
	walk(d.Panels)
	if exprs == 0 {
		t.Fatal("the dashboard has no queries")
	}
}

// checkExpr reports each metric an expression names that is not exported, and a
// consumer other than the workers' durable consumer.
func checkExpr(t *testing.T, where, expr string, have map[string]metricKind) {
	t.Helper()
	names := exprMetrics(expr)
	if len(names) == 0 && !strings.Contains(expr, "up{") {
		t.Errorf("%s: %q names no known metric", where, expr)
	}
	for _, name := range names {
		if strings.HasPrefix(name, "nats_") {
			if !knownMetric(name, exporterMetrics) {
				t.Errorf("%s: %s is not a metric of the NATS exporter", where, name)
			}
			continue
		}
		if !knownMetric(name, have) {
			t.Errorf("%s: names %s, which the code does not register", where, name)
		}
	}
	for _, m := range consumerMatcher.FindAllStringSubmatch(expr, -1) {
		if m[1] != config.Default().Worker.Consumer {
			t.Errorf("%s: consumer %q is not worker.consumer (%s)", where, m[1],
				config.Default().Worker.Consumer)
		}
	}
}

// headingAnchors returns the anchors of a Markdown file's headings, as GitHub makes them.
func headingAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		out[strings.ReplaceAll(drop.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return out
}

// TestPrometheusScrapesEveryProcess checks compose's Prometheus against the services:
// every ingest and worker on its admin port, and the rule file compose mounts.
func TestPrometheusScrapesEveryProcess(t *testing.T) {
	c := loadCompose(t)
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	decodeFile(t, "prometheus/prometheus.yml", &prom)
	targets := map[string]string{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				targets[tg] = sc.JobName
			}
		}
	}
	for _, p := range scriptsyncServices(t, c) {
		if p.svc.Command[0] == "sim" {
			continue
		}
		tg := p.name + ":" + portOf(t, p.cfg.Metrics.Addr)
		job, ok := targets[tg]
		if !ok {
			t.Errorf("prometheus.yml does not scrape %s", tg)
		} else if !strings.HasPrefix(job, "scriptsync-") {
			t.Errorf("prometheus.yml: %s is in job %s; the rules expect scriptsync-*", tg, job)
		}
	}
	for tg := range targets {
		host, _, _ := strings.Cut(tg, ":")
		if _, ok := c.Services[host]; !ok && host != "localhost" {
			t.Errorf("prometheus.yml scrapes %s, which is not a service", tg)
		}
	}
	mounted := strings.Join(c.Services["prometheus"].Volumes, " ")
	for _, f := range prom.RuleFiles {
		if !strings.Contains(mounted, "./deploy/prometheus/alerts.yml:"+f) {
			t.Errorf("prometheus.yml loads %s, which compose does not mount from alerts.yml", f)
		}
	}
}

// TestGrafanaProvisioning checks that compose mounts the dashboards where the provider
// looks, and that the datasource is compose's Prometheus.
func TestGrafanaProvisioning(t *testing.T) {
	c := loadCompose(t)
	g := c.Services["grafana"]
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeFile(t, "grafana/provisioning/dashboards/scriptsync.yml", &prov)
	if len(prov.Providers) != 1 ||
		volumeFor(g.Volumes, prov.Providers[0].Options.Path) != "./deploy/grafana/dashboards" {
		t.Errorf("the dashboard provider's path is not where compose mounts "+
			"deploy/grafana/dashboards: %+v", prov)
	}
	if volumeFor(g.Volumes, "/etc/grafana/provisioning") != "./deploy/grafana/provisioning" {
		t.Error("compose does not mount deploy/grafana/provisioning")
	}
	var ds struct {
		Datasources []struct {
			URL string `yaml:"url"`
		} `yaml:"datasources"`
	}
	decodeFile(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	for _, d := range ds.Datasources {
		checkServiceURL(t, c, "grafana", "datasource url", d.URL, "9090")
	}
}
