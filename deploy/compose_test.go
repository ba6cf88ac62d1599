package deploy_test

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"

	"github.com/scriptsync/scriptsync/config"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image           string   `yaml:"image"`
	Build           any      `yaml:"build"`
	Command         []string `yaml:"command"`
	Environment     envMap   `yaml:"environment"`
	Ports           []string `yaml:"ports"`
	Volumes         []string `yaml:"volumes"`
	User            string   `yaml:"user"`
	ReadOnly        bool     `yaml:"read_only"`
	CapDrop         []string `yaml:"cap_drop"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
	Healthcheck     struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// envMap is a service's environment, written as a map or as a list of KEY=VALUE.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	*e = envMap{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*e)[k] = v
	}
	return nil
}

// composeProcess is a scriptsync service of docker-compose.yml with its effective
// configuration.
type composeProcess struct {
	name string
	svc  composeService
	cfg  *config.Config
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	decodeFile(t, filepath.Join(root, "docker-compose.yml"), &c)
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return c
}

// scriptsyncServices returns the services running the scriptsync image, each with the
// configuration it would run with: the mounted file and its environment, interpolated as
// compose does with nothing set in the caller's environment.
func scriptsyncServices(t *testing.T, c composeFile) []composeProcess {
	t.Helper()
	var out []composeProcess
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		svc := c.Services[name]
		if !strings.HasPrefix(svc.Image, "scriptsync") {
			continue
		}
		env := map[string]string{}
		for k, v := range svc.Environment {
			val, err := interpolate(v)
			if err != nil {
				t.Fatalf("service %s: %s: %v", name, k, err)
			}
			env[k] = val
		}
		file := ""
		if p, ok := env[config.EnvConfigFile]; ok {
			file = hostPath(t, name, svc.Volumes, p)
			delete(env, config.EnvConfigFile)
		}
		sub := ""
		if len(svc.Command) > 0 {
			sub = svc.Command[0]
		}
		cfg, err := loadConfig(sub, file, env)
		if err != nil {
			t.Errorf("service %s: its configuration does not load: %v", name, err)
			continue
		}
		if sub == "sim" {
			if i := slices.Index(svc.Command, "--addr"); i > 0 && i+1 < len(svc.Command) {
				cfg.Sim.Addr = svc.Command[i+1]
			}
		}
		out = append(out, composeProcess{name: name, svc: svc, cfg: cfg})
	}
	return out
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{"nats-1", "nats-2", "nats-3", "nats-exporter", "redis",
		"redis-seed", "sim", "ingest", "worker-1", "worker-2", "prometheus", "grafana"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("docker-compose.yml has no service %s", want)
		}
	}
	_, secretVar := settingVars()
	count := map[string]int{}
	for _, p := range scriptsyncServices(t, c) {
		count[p.svc.Command[0]]++
		checkCommand(t, "service "+p.name, p.svc.Command)
		for k, v := range p.svc.Environment {
			checkVar(t, "service "+p.name, k)
			// A default in this file is for a machine of one's own: a real deployment
			// must be able to set its own secrets without editing the file.
			if secretVar[k] && !strings.HasPrefix(v, "${"+k) {
				t.Errorf("service %s: the secret %s is %q; take it from the caller's "+
					"environment, ${%s:-<local default>}", p.name, k, v, k)
			}
		}
		if p.svc.User == "" || strings.HasPrefix(p.svc.User, "0") ||
			strings.HasPrefix(p.svc.User, "root") {
			t.Errorf("service %s: runs as %q; want a non-root user", p.name, p.svc.User)
		}
		if !p.svc.ReadOnly || !slices.Contains(p.svc.CapDrop, "ALL") {
			t.Errorf("service %s: want read_only: true and cap_drop: [ALL]", p.name)
		}
	}
	if count["ingest"] != 1 || count["worker"] != 2 || count["sim"] != 1 {
		t.Errorf("scriptsync services by command: %v; want one ingest, two workers and "+
			"one sim", count)
	}
}

func TestComposePortsMatchConfig(t *testing.T) {
	c := loadCompose(t)
	for _, p := range scriptsyncServices(t, c) {
		published := containerPorts(t, p.name, p.svc.Ports)
		switch p.svc.Command[0] {
		case "sim":
			if !published[portOf(t, p.cfg.Sim.Addr)] {
				t.Errorf("service %s: listens on %s but publishes %v", p.name,
					p.cfg.Sim.Addr, p.svc.Ports)
			}
			continue
		case "ingest":
			if !published[portOf(t, p.cfg.Ingest.Addr)] {
				t.Errorf("service %s: ingest.addr is %s but it publishes %v", p.name,
					p.cfg.Ingest.Addr, p.svc.Ports)
			}
			checkGrace(t, p, p.cfg.Ingest.ShutdownGrace)
		case "worker":
			checkGrace(t, p, p.cfg.Worker.ShutdownGrace)
		}
		admin := portOf(t, p.cfg.Metrics.Addr)
		for port := range published {
			if port != admin && port != portOf(t, p.cfg.Ingest.Addr) {
				t.Errorf("service %s: publishes container port %s, which it does not "+
					"listen on", p.name, port)
			}
		}
	}
}

func checkGrace(t *testing.T, p composeProcess, grace time.Duration) {
	t.Helper()
	stop, err := time.ParseDuration(p.svc.StopGracePeriod)
	if err != nil || stop <= grace {
		t.Errorf("service %s: stop_grace_period %q must be longer than its shutdown "+
			"grace %s, or in-flight work is killed", p.name, p.svc.StopGracePeriod, grace)
	}
}

// TestComposeWiring checks that the addresses in the configuration are services of the
// file on the ports they listen on: NATS, Redis, the simulator as Genesys.
func TestComposeWiring(t *testing.T) {
	c := loadCompose(t)
	nats := natsConf(t, c)
	var sim *config.Config
	procs := scriptsyncServices(t, c)
	for _, p := range procs {
		if p.svc.Command[0] == "sim" {
			sim = p.cfg
		}
	}
	if sim == nil {
		t.Fatal("no simulator service")
	}
	for _, p := range procs {
		if p.svc.Command[0] == "sim" {
			continue
		}
		for _, u := range strings.Split(p.cfg.NATS.URL, ",") {
			checkServiceURL(t, c, p.name, "nats.url", strings.TrimSpace(u),
				fmt.Sprint(nats.Port))
		}
		if n := natsServices(c); p.cfg.Stream.Replicas != 3 || len(n) < 3 {
			t.Errorf("service %s: stream.replicas %d on %d NATS servers; want 3 on 3",
				p.name, p.cfg.Stream.Replicas, len(n))
		}
		if p.svc.Command[0] != "worker" {
			continue
		}
		if err := p.cfg.Genesys.RequireCredentials(); err != nil {
			t.Errorf("service %s: %v", p.name, err)
		}
		checkServiceURL(t, c, p.name, "genesys.login_url", p.cfg.Genesys.LoginURL,
			portOf(t, sim.Sim.Addr))
		checkServiceURL(t, c, p.name, "genesys.api_url", p.cfg.Genesys.APIURL,
			portOf(t, sim.Sim.Addr))
		if p.cfg.Genesys.ClientID != sim.Sim.ClientID ||
			p.cfg.Genesys.ClientSecret != sim.Sim.ClientSecret {
			t.Errorf("service %s: its Genesys credentials are not the simulator's", p.name)
		}
		if p.cfg.Lookup.Source == config.LookupSourceRedis {
			checkServiceURL(t, c, p.name, "lookup.redis.addr",
				"redis://"+p.cfg.Lookup.Redis.Addr, "6379")
		}
	}
}

// checkServiceURL reports a URL whose host is not a compose service or whose port is not
// the one that service listens on.
func checkServiceURL(t *testing.T, c composeFile, who, setting, raw, port string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("service %s: %s %q: %v", who, setting, raw, err)
		return
	}
	if _, ok := c.Services[u.Hostname()]; !ok {
		t.Errorf("service %s: %s names %s, which is not a service", who, setting, u.Hostname())
	}
	if u.Port() != port {
		t.Errorf("service %s: %s uses port %s; the service listens on %s", who, setting,
			u.Port(), port)
	}
}

// TestComposeNATSVersion: the NATS image compose runs is the server go.mod pins, which
// the tests and the fault suite embed, so the cluster behaves as the one tested.
func TestComposeNATSVersion(t *testing.T) {
	c := loadCompose(t)
	for _, name := range natsServices(c) {
		image := c.Services[name].Image
		tag := strings.TrimPrefix(image, "nats:")
		if tag != server.VERSION && !strings.HasPrefix(tag, server.VERSION+"-") {
			t.Errorf("service %s: image %s; want the tested server, nats:%s-alpine", name,
				image, server.VERSION)
		}
	}
}

func natsServices(c composeFile) []string {
	var out []string
	for name, svc := range c.Services {
		if strings.HasPrefix(svc.Image, "nats:") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// natsConf parses the NATS servers' configuration with the server's own parser and
// checks each server of the cluster against it.
func natsConf(t *testing.T, c composeFile) *server.Options {
	t.Helper()
	nodes := natsServices(c)
	if len(nodes) != 3 {
		t.Fatalf("%d NATS services; want a cluster of 3", len(nodes))
	}
	var opts *server.Options
	names := map[string]bool{}
	volumes := map[string]bool{}
	for _, name := range nodes {
		svc := c.Services[name]
		conf := flagValue(svc.Command, "--config")
		o, err := server.ProcessConfigFile(hostPath(t, name, svc.Volumes, conf))
		if err != nil {
			t.Fatalf("service %s: %s: %v", name, conf, err)
		}
		opts = o
		serverName := flagValue(svc.Command, "--server_name")
		if serverName == "" || names[serverName] {
			t.Errorf("service %s: --server_name %q must be set and unique", name, serverName)
		}
		names[serverName] = true
		data := volumeFor(svc.Volumes, "/data")
		if data == "" || volumes[data] {
			t.Errorf("service %s: needs a volume of its own on /data, has %q", name, data)
		}
		volumes[data] = true
		if _, ok := c.Volumes[data]; !ok {
			t.Errorf("service %s: volume %s is not declared", name, data)
		}
		check := strings.Join(svc.Healthcheck.Test, " ")
		if !strings.Contains(check, fmt.Sprintf(":%d/healthz", o.HTTPPort)) {
			t.Errorf("service %s: healthcheck %q does not ask the monitoring port %d",
				name, check, o.HTTPPort)
		}
	}
	if !opts.JetStream || !strings.HasPrefix(opts.StoreDir, "/data") {
		t.Errorf("nats.conf: want JetStream on with its store under /data, have %v in %q",
			opts.JetStream, opts.StoreDir)
	}
	if opts.HTTPPort != 8222 {
		t.Errorf("nats.conf: monitoring port %d; the exporter and scalers expect 8222",
			opts.HTTPPort)
	}
	routed := map[string]bool{}
	for _, r := range opts.Routes {
		routed[r.Hostname()] = true
	}
	for _, name := range nodes {
		if !routed[name] {
			t.Errorf("nats.conf: the cluster routes do not name %s", name)
		}
	}
	exporter := strings.Join(c.Services["nats-exporter"].Command, " ")
	if !strings.Contains(exporter, fmt.Sprintf(":%d", opts.HTTPPort)) ||
		!strings.Contains(exporter, "-jsz=all") || !strings.Contains(exporter, "-prefix=nats") {
		t.Errorf("nats-exporter %q: want -jsz=all -prefix=nats on port %d", exporter,
			opts.HTTPPort)
	}
	return opts
}

func flagValue(args []string, name string) string {
	if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// volumeFor returns the source of the volume mounted at target.
func volumeFor(volumes []string, target string) string {
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// hostPath maps a path inside a service's container to the repository file mounted there.
func hostPath(t *testing.T, service string, volumes []string, inContainer string) string {
	t.Helper()
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") {
			continue
		}
		if rel, err := filepath.Rel(parts[1], inContainer); err == nil &&
			!strings.HasPrefix(rel, "..") {
			return filepath.Join(root, parts[0], rel)
		}
	}
	t.Fatalf("service %s: nothing from the repository is mounted at %s", service, inContainer)
	return ""
}

// containerPorts returns the container ports a service publishes.
func containerPorts(t *testing.T, service string, ports []string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, p := range ports {
		parts := strings.Split(p, ":")
		if len(parts) != 3 || parts[0] != "127.0.0.1" {
			t.Errorf("service %s: port %q; publish as 127.0.0.1:HOST:CONTAINER", service, p)
			continue
		}
		out[parts[2]] = true
	}
	return out
}

var interpolation = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate expands ${VAR}, ${VAR:-default}, ${VAR-default} and ${VAR:?error} as
// compose does when none of the variables is set, which is how the file runs by default.
func interpolate(s string) (string, error) {
	var err error
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := interpolation.FindStringSubmatch(m)
		switch g[2] {
		case ":-", "-":
			return g[3]
		case ":?", "?":
			err = fmt.Errorf("%s is required: %s", g[1], g[3])
		}
		return ""
	})
	return out, err
}
