package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/scriptsync/scriptsync/config"
)

// root is the repository root, relative to this package.
const root = ".."

var tmpDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scriptsync-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	errBuild  error
)

// scriptsync builds the real binary once, so the tests ask it which subcommands and flags
// exist instead of keeping a list of their own.
func scriptsync(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			errBuild = fmt.Errorf("the go command is needed to build scriptsync: %w", err)
			return
		}
		binPath = filepath.Join(tmpDir, "scriptsync")
		cmd := exec.Command(goTool, "build", "-o", binPath, "./cmd/scriptsync")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			errBuild = fmt.Errorf("build scriptsync: %w\n%s", err, out)
		}
	})
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	return binPath
}

// checkCommand runs args with -h appended: a real subcommand with flags it knows stops at
// -h with status 0; an unknown subcommand, flag or extra argument exits with status 2.
func checkCommand(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no subcommand", where)
		return
	}
	if _, ok := subcommands(t)[args[0]]; !ok {
		t.Errorf("%s: %q is not a scriptsync subcommand (have %v)", where, args[0],
			slices.Sorted(maps.Keys(subcommands(t))))
		return
	}
	cmd := exec.CommandContext(t.Context(), scriptsync(t), append(args, "-h")...)
	cmd.Env = []string{}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("%s: scriptsync %s -h: %v\n%s", where, strings.Join(args, " "), err,
			out.String())
	}
}

var (
	subOnce sync.Once
	subs    map[string]bool
)

// subcommands lists the commands of scriptsync's usage text.
func subcommands(t *testing.T) map[string]bool {
	t.Helper()
	bin := scriptsync(t)
	subOnce.Do(func() {
		out, _ := exec.CommandContext(t.Context(), bin, "help").Output()
		subs = map[string]bool{}
		_, list, _ := strings.Cut(string(out), "commands:")
		list, _, _ = strings.Cut(list, "\n\n")
		for _, line := range strings.Split(list, "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				subs[f[0]] = true
			}
		}
	})
	if len(subs) == 0 {
		t.Fatal("scriptsync help lists no commands")
	}
	return subs
}

// settingVars maps every environment variable that sets a configuration setting to the
// setting's YAML path, following the overlay's rule (SCRIPTSYNC_ and the path in upper
// case), and says which settings are secret.
func settingVars() (vars map[string]string, secret map[string]bool) {
	vars, secret = map[string]string{}, map[string]bool{}
	var walk func(t reflect.Type, path, env string)
	walk = func(t reflect.Type, path, env string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			p, e := strings.TrimPrefix(path+"."+name, "."), env+"_"+strings.ToUpper(name)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, p, e)
				continue
			}
			vars[e] = p
			secret[e] = f.Tag.Get("secret") == "true"
		}
	}
	walk(reflect.TypeFor[config.Config](), "", config.EnvPrefix)
	return vars, secret
}

// checkVar reports a SCRIPTSYNC_ variable that names no setting: the overlay ignores
// unknown variables, so a misspelt one would silently keep the default.
func checkVar(t *testing.T, where, name string) {
	t.Helper()
	if !strings.HasPrefix(name, config.EnvPrefix+"_") || name == config.EnvConfigFile {
		return
	}
	vars, _ := settingVars()
	_, direct := vars[name]
	_, viaFile := vars[strings.TrimSuffix(name, "_FILE")]
	if !direct && !viaFile {
		t.Errorf("%s: %s sets no configuration setting", where, name)
	}
}

// loadConfig loads a process's configuration as scriptsync would: the file, then env,
// over the defaults the subcommand starts from (as in cmd/scriptsync).
func loadConfig(subcommand, file string, env map[string]string) (*config.Config, error) {
	base := config.Default()
	switch subcommand {
	case "dev":
		base = config.DevDefault()
	case "sim":
		base = config.SimDefault()
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	return config.LoadWith(base, file, environ)
}

// portOf returns the port of a host:port address.
func portOf(t *testing.T, addr string) string {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		t.Fatalf("%q has no port", addr)
	}
	return addr[i+1:]
}

// decodeAll decodes every document of a multi-document YAML file.
func decodeAll(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

func decodeFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

var consumerMatcher = regexp.MustCompile(`consumer_name="([^"]*)"`)
