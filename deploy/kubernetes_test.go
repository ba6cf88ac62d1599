package deploy_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scriptsync/scriptsync/config"
)

const k8sDir = "kubernetes"

// manifests holds every object of deploy/kubernetes, by kind and name.
type manifests map[string]map[string]map[string]any

func loadManifests(t *testing.T) manifests {
	t.Helper()
	var kust struct {
		Resources []string `yaml:"resources"`
		Namespace string   `yaml:"namespace"`
	}
	decodeFile(t, filepath.Join(k8sDir, "kustomization.yaml"), &kust)
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := manifests{}
	for _, f := range files {
		base := filepath.Base(f)
		if base == "kustomization.yaml" {
			continue
		}
		if !slices.Contains(kust.Resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
		for _, doc := range decodeAll(t, f) {
			kind, _ := doc["kind"].(string)
			name := str(doc, "metadata", "name")
			if kind == "" || name == "" || doc["apiVersion"] == nil {
				t.Errorf("%s: an object without apiVersion, kind or name", base)
				continue
			}
			if ns := str(doc, "metadata", "namespace"); kind != "Namespace" &&
				ns != kust.Namespace {
				t.Errorf("%s: %s %s is in namespace %q, want %q", base, kind, name, ns,
					kust.Namespace)
			}
			if out[kind] == nil {
				out[kind] = map[string]map[string]any{}
			}
			out[kind][name] = doc
		}
	}
	for _, r := range kust.Resources {
		if _, err := os.Stat(filepath.Join(k8sDir, r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	return out
}

func TestKubernetesKinds(t *testing.T) {
	m := loadManifests(t)
	for kind, count := range map[string]int{"Namespace": 1, "ConfigMap": 1, "Secret": 1,
		"Deployment": 2, "Service": 1, "PodDisruptionBudget": 2, "ScaledObject": 1} {
		if len(m[kind]) != count {
			t.Errorf("%d %s objects, want %d", len(m[kind]), kind, count)
		}
	}
	for _, d := range m["Deployment"] {
		if _, ok := pods(m, d)["PodDisruptionBudget"]; !ok {
			t.Errorf("Deployment %s has no PodDisruptionBudget", str(d, "metadata", "name"))
		}
	}
}

// pods returns, by kind, the objects whose selector matches the Deployment's pods.
func pods(m manifests, d map[string]any) map[string]string {
	labels := mapOf(d, "spec", "template", "metadata", "labels")
	out := map[string]string{}
	for _, kind := range []string{"PodDisruptionBudget", "Service"} {
		for name, obj := range m[kind] {
			sel := mapOf(obj, "spec", "selector", "matchLabels")
			if kind == "Service" {
				sel = mapOf(obj, "spec", "selector")
			}
			if len(sel) > 0 && subset(sel, labels) {
				out[kind] = name
			}
		}
	}
	return out
}

// k8sProcess is a Deployment's container with the configuration it would run with.
type k8sProcess struct {
	name      string
	container map[string]any
	pod       map[string]any
	cfg       *config.Config
}

// processes resolves each Deployment's environment against the ConfigMap and the Secret
// (placeholders included), loads its configuration, and checks how secrets get there.
func processes(t *testing.T, m manifests) []k8sProcess {
	t.Helper()
	_, secretVar := settingVars()
	var out []k8sProcess
	for _, name := range slices.Sorted(maps.Keys(m["Deployment"])) {
		d := m["Deployment"][name]
		pod := mapOf(d, "spec", "template", "spec")
		cs := listOf(pod, "containers")
		if len(cs) != 1 {
			t.Errorf("Deployment %s: %d containers, want 1", name, len(cs))
			continue
		}
		c := cs[0].(map[string]any)
		mounts := mountedFiles(t, m, pod, c)
		env := map[string]string{}
		for _, e := range listOf(c, "env") {
			e := e.(map[string]any)
			k := str(e, "name")
			checkVar(t, "Deployment "+name, k)
			if v, ok := e["value"].(string); ok {
				if secretVar[k] {
					t.Errorf("Deployment %s: %s is a secret but has a literal value; take "+
						"it from the Secret", name, k)
				}
				env[k] = v
				continue
			}
			ref := mapOf(e, "valueFrom", "secretKeyRef")
			env[k] = secretValue(t, m, name, str(ref, "name"), str(ref, "key"))
		}
		for k, v := range env {
			if strings.HasSuffix(k, "_FILE") || k == config.EnvConfigFile {
				f, ok := mounts[v]
				if !ok {
					t.Errorf("Deployment %s: %s names %s, which no volume provides", name, k, v)
				}
				if secretVar[strings.TrimSuffix(k, "_FILE")] && !secretMounted(pod, c, v) {
					t.Errorf("Deployment %s: %s names %s, which is not from a Secret", name,
						k, v)
				}
				env[k] = f
			}
		}
		file := env[config.EnvConfigFile]
		delete(env, config.EnvConfigFile)
		args := stringsOf(c, "args")
		sub := ""
		if len(args) > 0 {
			sub = args[0]
		}
		cfg, err := loadConfig(sub, file, env)
		if err != nil {
			t.Errorf("Deployment %s: its configuration does not load: %v", name, err)
			continue
		}
		out = append(out, k8sProcess{name: name, container: c, pod: pod, cfg: cfg})
	}
	return out
}

// mountedFiles writes each ConfigMap and Secret key the container mounts to a temporary
// file, keyed by its path in the container.
func mountedFiles(t *testing.T, m manifests, pod, c map[string]any) map[string]string {
	t.Helper()
	dir := t.TempDir()
	volumes := map[string]map[string]any{}
	for _, v := range listOf(pod, "volumes") {
		v := v.(map[string]any)
		volumes[str(v, "name")] = v
	}
	out := map[string]string{}
	for _, vm := range listOf(c, "volumeMounts") {
		vm := vm.(map[string]any)
		v := volumes[str(vm, "name")]
		if v == nil {
			t.Errorf("volume mount %s has no volume", str(vm, "name"))
			continue
		}
		var data map[string]string
		var items []any
		switch {
		case v["configMap"] != nil:
			cm := m["ConfigMap"][str(v, "configMap", "name")]
			data = stringMap(mapOf(cm, "data"))
			items = listOf(v, "configMap", "items")
		case v["secret"] != nil:
			s := m["Secret"][str(v, "secret", "secretName")]
			data = stringMap(mapOf(s, "stringData"))
			items = listOf(v, "secret", "items")
		}
		if data == nil {
			t.Errorf("volume %s: its ConfigMap or Secret is not among the manifests",
				str(vm, "name"))
			continue
		}
		for _, it := range items {
			it := it.(map[string]any)
			content, ok := data[str(it, "key")]
			if !ok {
				t.Errorf("volume %s: key %s does not exist", str(vm, "name"), str(it, "key"))
			}
			f := filepath.Join(dir, str(vm, "name")+"-"+str(it, "path"))
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			out[strings.TrimSuffix(str(vm, "mountPath"), "/")+"/"+str(it, "path")] = f
		}
	}
	return out
}

func secretValue(t *testing.T, m manifests, deployment, name, key string) string {
	t.Helper()
	s := m["Secret"][name]
	if s == nil {
		t.Errorf("Deployment %s: Secret %q is not among the manifests", deployment, name)
		return ""
	}
	v, ok := mapOf(s, "stringData")[key].(string)
	if !ok {
		t.Errorf("Deployment %s: Secret %s has no key %s", deployment, name, key)
	}
	return v
}

func TestKubernetesDeployments(t *testing.T) {
	m := loadManifests(t)
	seen := map[string]bool{}
	for _, p := range processes(t, m) {
		where := "Deployment " + p.name
		args := stringsOf(p.container, "args")
		checkCommand(t, where, args)
		seen[args[0]] = true
		ports := map[string]string{}
		for _, cp := range listOf(p.container, "ports") {
			cp := cp.(map[string]any)
			ports[str(cp, "name")] = strconv.Itoa(intOf(cp["containerPort"]))
		}
		if ports["admin"] != portOf(t, p.cfg.Metrics.Addr) {
			t.Errorf("%s: port admin is %s, metrics.addr is %s", where, ports["admin"],
				p.cfg.Metrics.Addr)
		}
		checkProbe(t, where, p.container, "livenessProbe", "/healthz")
		checkProbe(t, where, p.container, "readinessProbe", "/readyz")
		checkSecurity(t, where, p.pod, p.container)
		grace := p.cfg.Worker.ShutdownGrace
		if args[0] == "ingest" {
			grace = p.cfg.Ingest.ShutdownGrace
			checkIngestService(t, m, p, ports["http"])
		}
		if args[0] == "worker" {
			if err := p.cfg.Genesys.RequireCredentials(); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			checkScaledObject(t, m, p)
		}
		if period := time.Duration(intOf(p.pod["terminationGracePeriodSeconds"])) *
			time.Second; period <= grace {
			t.Errorf("%s: terminationGracePeriodSeconds %s must exceed the shutdown "+
				"grace %s", where, period, grace)
		}
		if p.cfg.Stream.Replicas != 3 {
			t.Errorf("%s: stream.replicas %d; want 3 in production", where,
				p.cfg.Stream.Replicas)
		}
	}
	if !seen["ingest"] || !seen["worker"] {
		t.Errorf("deployments run %v; want ingest and worker", seen)
	}
}

func checkProbe(t *testing.T, where string, c map[string]any, probe, path string) {
	t.Helper()
	get := mapOf(c, probe, "httpGet")
	if str(get, "path") != path || str(get, "port") != "admin" {
		t.Errorf("%s: %s is %v; want GET %s on port admin", where, probe, get, path)
	}
}

func checkSecurity(t *testing.T, where string, pod, c map[string]any) {
	t.Helper()
	if mapOf(pod, "securityContext")["runAsNonRoot"] != true ||
		intOf(mapOf(pod, "securityContext")["runAsUser"]) == 0 {
		t.Errorf("%s: the pod must set runAsNonRoot and a non-zero runAsUser", where)
	}
	sc := mapOf(c, "securityContext")
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false ||
		!slices.Contains(stringsOf(sc, "capabilities", "drop"), "ALL") {
		t.Errorf("%s: want a read-only root file system, no privilege escalation and "+
			"every capability dropped, have %v", where, sc)
	}
	res := mapOf(c, "resources")
	if len(mapOf(res, "requests")) == 0 || mapOf(res, "limits")["memory"] == nil {
		t.Errorf("%s: want resource requests and a memory limit", where)
	}
}

func checkIngestService(t *testing.T, m manifests, p k8sProcess, httpPort string) {
	t.Helper()
	if httpPort != portOf(t, p.cfg.Ingest.Addr) {
		t.Errorf("Deployment %s: port http is %s, ingest.addr is %s", p.name, httpPort,
			p.cfg.Ingest.Addr)
	}
	d := m["Deployment"][p.name]
	svc := m["Service"][pods(m, d)["Service"]]
	if svc == nil {
		t.Fatalf("Deployment %s: no Service selects its pods", p.name)
	}
	for _, sp := range listOf(svc, "spec", "ports") {
		if tp := str(sp.(map[string]any), "targetPort"); tp != "http" {
			t.Errorf("Service %s: targetPort %q, want the ingest's port http",
				str(svc, "metadata", "name"), tp)
		}
	}
}

// checkScaledObject checks the KEDA trigger against the worker's configuration: the
// stream and consumer names, and that the fleet stays within the Genesys rate limit.
func checkScaledObject(t *testing.T, m manifests, p k8sProcess) {
	t.Helper()
	var so map[string]any
	for _, o := range m["ScaledObject"] {
		if str(o, "spec", "scaleTargetRef", "name") == p.name {
			so = o
		}
	}
	if so == nil {
		t.Errorf("Deployment %s: no ScaledObject scales it", p.name)
		return
	}
	triggers := listOf(so, "spec", "triggers")
	if len(triggers) != 1 {
		t.Fatalf("ScaledObject: %d triggers, want 1", len(triggers))
	}
	tr := triggers[0].(map[string]any)
	md := stringMap(mapOf(tr, "metadata"))
	if str(tr, "type") != "nats-jetstream" {
		t.Errorf("ScaledObject: trigger type %q, want nats-jetstream", str(tr, "type"))
	}
	// The ConfigMap keeps the default names, so the trigger names both.
	def := config.Default()
	if md["stream"] != p.cfg.Stream.Name || md["stream"] != def.Stream.Name {
		t.Errorf("ScaledObject: stream %q; the workers consume %q (default %q)", md["stream"],
			p.cfg.Stream.Name, def.Stream.Name)
	}
	if md["consumer"] != p.cfg.Worker.Consumer || md["consumer"] != def.Worker.Consumer {
		t.Errorf("ScaledObject: consumer %q; the workers share %q (default %q)",
			md["consumer"], p.cfg.Worker.Consumer, def.Worker.Consumer)
	}
	if !strings.HasSuffix(md["natsServerMonitoringEndpoint"], ":8222") || md["account"] == "" {
		t.Errorf("ScaledObject: want the monitoring endpoint on port 8222 and an account, "+
			"have %v", md)
	}
	if n, err := strconv.Atoi(md["lagThreshold"]); err != nil || n < 1 {
		t.Errorf("ScaledObject: lagThreshold %q is not a positive number", md["lagThreshold"])
	}
	maxPods := intOf(mapOf(so, "spec")["maxReplicaCount"])
	minPods := intOf(mapOf(so, "spec")["minReplicaCount"])
	if minPods < 2 || maxPods < minPods {
		t.Errorf("ScaledObject: replicas %d..%d; want at least 2, for the PDB", minPods, maxPods)
	}
	// Every process keeps to genesys.rate_per_minute on its own; the OAuth client's
	// limit is 300 a minute unless Genesys raised it.
	if total := maxPods * p.cfg.Genesys.RatePerMinute; total > 300 {
		t.Errorf("ScaledObject: %d workers at genesys.rate_per_minute %d make %d calls a "+
			"minute, over the default limit of 300", maxPods, p.cfg.Genesys.RatePerMinute,
			total)
	}
	if _, ok := mapOf(m["Deployment"][p.name], "spec")["replicas"]; ok {
		t.Errorf("Deployment %s: sets replicas, which fights the autoscaler on every apply",
			p.name)
	}
}

// The helpers below walk decoded YAML without a schema.

func mapOf(v any, path ...string) map[string]any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any, path ...string) []any {
	l, _ := mapOf(v, path[:len(path)-1]...)[path[len(path)-1]].([]any)
	return l
}

func str(v any, path ...string) string {
	s, _ := mapOf(v, path[:len(path)-1]...)[path[len(path)-1]].(string)
	return s
}

func stringsOf(v any, path ...string) []string {
	var out []string
	for _, x := range listOf(v, path...) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func stringMap(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

func intOf(v any) int {
	n, _ := v.(int)
	return n
}

func subset(sel, labels map[string]any) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
