package deploy_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/scriptsync/scriptsync/config"
)

// The admin API and the operator console are off unless admin.token is set, and nothing
// says so but one line at start-up: a deployment that forgets the token ships without
// them. These tests hold every shipped ingest and worker to serving them, with the token
// coming from where the deployment keeps its other secrets.

const (
	envAdminToken     = config.EnvPrefix + "_ADMIN_TOKEN"
	envAdminTokenFile = envAdminToken + "_FILE"
)

// operatorDocs are the pages that tell operators where each compose console is.
var operatorDocs = []string{"docs/console.md", "docs/operations.md"}

func TestComposeAdminAPI(t *testing.T) {
	c := loadCompose(t)
	docs := map[string]string{}
	for _, d := range operatorDocs {
		data, err := os.ReadFile(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		docs[d] = string(data)
	}
	served := 0
	for _, p := range scriptsyncServices(t, c) {
		if p.svc.Command[0] == "sim" {
			continue
		}
		served++
		where := "service " + p.name
		if !p.cfg.Admin.Serves() {
			t.Errorf("%s: the admin API and console are off; set %s or %s", where,
				envAdminToken, envAdminTokenFile)
		}
		host := hostPorts(p.svc.Ports)[portOf(t, p.cfg.Metrics.Addr)]
		if host == "" {
			t.Errorf("%s: its admin listener %s is not published, so its console cannot "+
				"be reached", where, p.cfg.Metrics.Addr)
			continue
		}
		url := "http://127.0.0.1:" + host + "/console/"
		for d, text := range docs {
			if !strings.Contains(text, url) {
				t.Errorf("%s does not give %s's console, %s", d, p.name, url)
			}
		}
	}
	if served == 0 {
		t.Error("no ingest or worker service in docker-compose.yml")
	}
}

// TestComposeHostPortsUnique: compose refuses to start two services on one host port;
// host port 9090 is Prometheus's, so the admin listeners are published elsewhere.
func TestComposeHostPortsUnique(t *testing.T) {
	c := loadCompose(t)
	owner := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		for _, host := range hostPorts(c.Services[name].Ports) {
			if other, ok := owner[host]; ok {
				t.Errorf("host port %s is published by both %s and %s", host, other, name)
			}
			owner[host] = name
		}
	}
}

func TestKubernetesAdminAPI(t *testing.T) {
	m := loadManifests(t)
	procs := processes(t, m)
	if len(procs) == 0 {
		t.Fatal("no Deployments")
	}
	for _, p := range procs {
		where := "Deployment " + p.name
		if !p.cfg.Admin.Serves() {
			t.Errorf("%s: the admin API and console are off; set %s from the Secret or "+
				"%s to a file mounted from it", where, envAdminToken, envAdminTokenFile)
		}
		if !adminTokenFromSecret(p) {
			t.Errorf("%s: the admin token does not come from a Secret", where)
		}
	}
}

// adminTokenFromSecret reports whether the container takes the admin token from a Secret:
// by secretKeyRef, or from a file of a Secret volume. processes has already checked that
// the key exists.
func adminTokenFromSecret(p k8sProcess) bool {
	for _, e := range listOf(p.container, "env") {
		e := e.(map[string]any)
		switch str(e, "name") {
		case envAdminToken:
			if mapOf(e, "valueFrom", "secretKeyRef") != nil {
				return true
			}
		case envAdminTokenFile:
			if path, ok := e["value"].(string); ok && secretMounted(p.pod, p.container, path) {
				return true
			}
		}
	}
	return false
}

// secretMounted reports whether path lies in a volume the container mounts from a Secret.
func secretMounted(pod, c map[string]any, path string) bool {
	for _, vm := range listOf(c, "volumeMounts") {
		vm := vm.(map[string]any)
		dir := strings.TrimSuffix(str(vm, "mountPath"), "/") + "/"
		if !strings.HasPrefix(path, dir) {
			continue
		}
		for _, v := range listOf(pod, "volumes") {
			v := v.(map[string]any)
			if str(v, "name") == str(vm, "name") && v["secret"] != nil {
				return true
			}
		}
	}
	return false
}

// hostPorts maps each container port a service publishes to its host port.
func hostPorts(ports []string) map[string]string {
	out := map[string]string{}
	for _, p := range ports {
		if parts := strings.Split(p, ":"); len(parts) == 3 {
			out[parts[2]] = parts[1]
		}
	}
	return out
}

// secretSettings returns the secret settings a configuration file sets: secrets belong
// in the environment, from the Secret or the caller's environment, never in a ConfigMap
// or a file of the repository.
func secretSettings(t *testing.T, where string, data []byte) []string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	vars, secret := settingVars()
	secretPath := map[string]bool{}
	for env, path := range vars {
		if secret[env] {
			secretPath[path] = true
		}
	}
	var out []string
	var walk func(v any, path string)
	walk = func(v any, path string) {
		m, ok := v.(map[string]any)
		if !ok {
			if secretPath[path] {
				out = append(out, path)
			}
			return
		}
		for k, sub := range m {
			walk(sub, strings.TrimPrefix(path+"."+k, "."))
		}
	}
	walk(doc, "")
	slices.Sort(out)
	return out
}

func TestConfigFilesHoldNoSecrets(t *testing.T) {
	data, err := os.ReadFile("compose/scriptsync.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s := secretSettings(t, "compose/scriptsync.yaml", data); len(s) > 0 {
		t.Errorf("compose/scriptsync.yaml sets the secrets %v", s)
	}
	m := loadManifests(t)
	for name, cm := range m["ConfigMap"] {
		for key, v := range stringMap(mapOf(cm, "data")) {
			where := "ConfigMap " + name + " " + key
			if s := secretSettings(t, where, []byte(v)); len(s) > 0 {
				t.Errorf("%s sets the secrets %v; put them in the Secret", where, s)
			}
		}
	}
}
