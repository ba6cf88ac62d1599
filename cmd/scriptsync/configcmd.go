package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/scriptsync/scriptsync/config"
)

const configUsage = "usage: scriptsync config check [--config FILE] " +
	"[--for ingest,worker,sim,dev] [--dev]"

// startCheck is what a process checks of its configuration before it starts: the defaults
// it loads the file over, and the settings it needs beyond Validate.
type startCheck struct {
	base    func() config.Config
	require []func(*config.Config) error
}

func requireAuth(c *config.Config) error        { return c.Ingest.RequireAuth() }
func requireCredentials(c *config.Config) error { return c.Genesys.RequireCredentials() }

// startChecks mirrors the start of runIngest, runWorker, runSim and runDev (dev needs both
// requirements through app.Ingest and app.Worker): config check must refuse what they
// refuse, so change them together. TestConfigCheckAgreesWithTheServices holds ingest and
// worker to it.
var startChecks = map[string]startCheck{
	"ingest": {base: config.Default, require: []func(*config.Config) error{requireAuth}},
	"worker": {base: config.Default,
		require: []func(*config.Config) error{requireCredentials}},
	"sim": {base: config.SimDefault},
	"dev": {base: config.DevDefault,
		require: []func(*config.Config) error{requireAuth, requireCredentials}},
}

// processOrder is the order processes are named in, whatever the order of --for.
var processOrder = []string{"ingest", "worker", "sim", "dev"}

// runConfig implements "scriptsync config check": print the effective configuration with
// secrets masked, and exit non-zero when any process named by --for would refuse it at
// start. A problem is reported once, with the processes it stops.
func runConfig(_ context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{errors.New(configUsage)}
	}
	fs, path := e.flags("config check")
	forList := fs.String("for", "ingest,worker", "comma-separated processes whose start-up "+
		"checks to run: "+strings.Join(processOrder, ", "))
	dev := fs.Bool("dev", false, "short for --for dev: start from the defaults of "+
		"scriptsync dev")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *dev {
		forSet := false
		fs.Visit(func(f *flag.Flag) { forSet = forSet || f.Name == "for" })
		if forSet {
			return usageError{errors.New("--dev is short for --for dev: give one or the other")}
		}
		*forList = "dev"
	}
	procs, err := parseProcesses(*forList)
	if err != nil {
		return usageError{err}
	}
	if *path == "" {
		*path = e.getenv(config.EnvConfigFile)
	}
	var docs, problems groups
	for _, proc := range procs {
		check := startChecks[proc]
		cfg, err := config.LoadWith(check.base(), *path, e.environ)
		if cfg == nil {
			// The file cannot be read or parsed, or the environment is malformed: that
			// does not depend on the process, and there is nothing to print.
			return usageError{fmt.Errorf("invalid configuration:\n%w", err)}
		}
		out, merr := cfg.MaskedYAML()
		if merr != nil {
			return merr
		}
		docs.add(string(out), proc)
		// Validate reports every problem; the requirements are reported with them, though
		// the process would stop at the first failing stage, so one run shows them all.
		for _, problem := range append(splitJoined(err), requirements(check, cfg)...) {
			problems.add(problem.Error(), proc)
		}
	}
	printDocs(e, docs)
	if len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, p := range problems {
			lines[i] = fmt.Sprintf("%s (for %s)", p.key, strings.Join(p.procs, ", "))
		}
		return usageError{fmt.Errorf("invalid configuration:\n%s", strings.Join(lines, "\n"))}
	}
	_, _ = fmt.Fprintf(e.stderr, "configuration is valid for %s\n", strings.Join(procs, ", "))
	return nil
}

// parseProcesses reads the --for list into known process names, in processOrder.
func parseProcesses(list string) ([]string, error) {
	var named []string
	for p := range strings.SplitSeq(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, ok := startChecks[p]; !ok {
			return nil, fmt.Errorf("--for: unknown process %q; use %s", p,
				strings.Join(processOrder, ", "))
		}
		named = append(named, p)
	}
	if len(named) == 0 {
		return nil, fmt.Errorf("--for: name at least one of %s", strings.Join(processOrder, ", "))
	}
	var procs []string
	for _, p := range processOrder {
		if slices.Contains(named, p) {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// requirements runs the checks a process adds to Validate.
func requirements(check startCheck, cfg *config.Config) []error {
	var errs []error
	for _, req := range check.require {
		if err := req(cfg); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// splitJoined undoes the errors.Join of Validate, one error per bad setting.
func splitJoined(err error) []error {
	if err == nil {
		return nil
	}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return joined.Unwrap()
	}
	return []error{err}
}

// groups collects keys with the processes they apply to, in the order first seen.
type groups []group

type group struct {
	key   string
	procs []string
}

func (g *groups) add(key, proc string) {
	for i := range *g {
		if (*g)[i].key == key {
			(*g)[i].procs = append((*g)[i].procs, proc)
			return
		}
	}
	*g = append(*g, group{key: key, procs: []string{proc}})
}

// printDocs writes the effective configuration. Processes start from different defaults
// (sim and dev from local ones), so when the named processes see different
// configurations each is printed as its own YAML document, headed by the processes it is
// for.
func printDocs(e *env, docs groups) {
	if len(docs) == 1 {
		_, _ = e.stdout.Write([]byte(docs[0].key))
		return
	}
	var b bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, "# effective configuration for %s\n", strings.Join(d.procs, ", "))
		b.WriteString(d.key)
	}
	_, _ = e.stdout.Write(b.Bytes())
}
