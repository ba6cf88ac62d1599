package deploy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scriptsync/scriptsync/config"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd, args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []instruction
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur == "") {
			continue
		}
		if next, ok := strings.CutSuffix(line, `\`); ok {
			cur += next + " "
			continue
		}
		cur += line
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDockerfile checks the image's shape: a Go builder stage producing a static binary,
// a final stage with nothing but that binary run as a non-root user, and the ports the
// default configuration listens on.
func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	var froms []string
	var final []instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in.args)
			final = nil
		}
		final = append(final, in)
	}
	if len(froms) < 2 || !strings.HasPrefix(froms[0], "golang:1.26 ") {
		t.Fatalf("stages %v; want a golang:1.26 builder and a final stage", froms)
	}
	base := strings.Fields(froms[len(froms)-1])[0]
	distroless := strings.Contains(base, "distroless/static") && strings.Contains(base, "nonroot")
	if base != "scratch" && !distroless {
		t.Errorf("final stage from %s; want scratch or a distroless static nonroot image", base)
	}
	var build, entrypoint, user string
	var exposed []string
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	for _, in := range final {
		switch in.cmd {
		case "ENTRYPOINT":
			entrypoint = in.args
		case "USER":
			user = in.args
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.args)...)
		}
	}
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/scriptsync") {
		t.Errorf("the build %q must set CGO_ENABLED=0 and build ./cmd/scriptsync", build)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil ||
		!slices.Equal(ep, []string{"/scriptsync"}) {
		t.Errorf(`ENTRYPOINT %s; want ["/scriptsync"] in exec form`, entrypoint)
	}
	uid, _, _ := strings.Cut(user, ":")
	if base == "scratch" && (uid == "" || uid == "0" || uid == "root") {
		t.Errorf("USER %q; the final stage must run as a numeric non-root user", user)
	}
	def := config.Default()
	for _, addr := range []string{def.Ingest.Addr, def.Metrics.Addr} {
		if !slices.Contains(exposed, portOf(t, addr)) {
			t.Errorf("EXPOSE %v lacks port %s of the default configuration", exposed,
				portOf(t, addr))
		}
	}
}

// TestDockerignoreKeepsSources fails when .dockerignore leaves out a file the build needs:
// go.mod, go.sum, or a directory holding a package the binary is built from.
func TestDockerignoreKeepsSources(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-f", "{{.Dir}}",
		"../cmd/scriptsync").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	needed := map[string]bool{"go.mod": true, "go.sum": true}
	for _, dir := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(abs, dir); err == nil && !strings.HasPrefix(rel, "..") {
			needed[filepath.ToSlash(rel)] = true
		}
	}
	for path := range needed {
		for _, p := range patterns {
			if ignored(p, path) {
				t.Errorf(".dockerignore pattern %q drops %s, which the build needs", p, path)
			}
		}
	}
}

// ignored reports whether a .dockerignore pattern drops path or one of its parents.
// Patterns are anchored at the build context's root unless they start with **/.
func ignored(pattern, path string) bool {
	parts := strings.Split(path, "/")
	anywhere := strings.HasPrefix(pattern, "**/")
	pattern = strings.TrimPrefix(pattern, "**/")
	for start := range parts {
		if start > 0 && !anywhere {
			break
		}
		for end := start + 1; end <= len(parts); end++ {
			if ok, _ := filepath.Match(pattern, strings.Join(parts[start:end], "/")); ok {
				return true
			}
		}
	}
	return false
}

func TestIgnored(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"config", "config/gendoc", true},
		{"config", "internal/config", false},
		{"*.md", "go.mod", false},
		{"*.md", "README.md", true},
		{"**/testdata/fuzz", "ingest/testdata/fuzz", true},
		{"deploy", "ingest", false},
	} {
		if got := ignored(c.pattern, c.path); got != c.want {
			t.Errorf("ignored(%q, %q) = %v", c.pattern, c.path, got)
		}
	}
}

func TestComposeBuildsTheDockerfile(t *testing.T) {
	c := loadCompose(t)
	for _, p := range scriptsyncServices(t, c) {
		b, _ := p.svc.Build.(map[string]any)
		if b["context"] != "." || b["dockerfile"] != "Dockerfile" {
			t.Errorf("service %s: build %v; want the repository's Dockerfile", p.name,
				p.svc.Build)
		}
	}
}
