package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scriptsync/scriptsync/config"
)

// command is one subcommand of scriptsync.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand; each lives in its own file.
var commands = map[string]command{
	"ingest": {summary: "receive webhooks and store events in JetStream", run: runIngest},
	"worker": {summary: "write looked-up values into participant attributes", run: runWorker},
	"dev":    {summary: "run the whole pipeline locally in one process", run: runDev},
	"config": {summary: "check or print the effective configuration", run: runConfig},
	"events": {summary: "list the latest stored events", run: runEvents},
	"sim":    {summary: "run the Genesys Cloud simulator", run: runSim},
	"dlq":    {summary: "list, show, replay or delete dead letters", run: runDLQ},
	"replay": {summary: "publish settled events again, after a fix to lookup data", run: runReplay},
}

// env is what a command gets from the outside world; only this package reads it.
type env struct {
	environ        []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageError makes the process exit with status 2, as for a bad flag.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// run dispatches to a subcommand and maps its error to an exit status: 0 success, 1 a
// failure while running, 2 bad usage or configuration.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "scriptsync: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	e := &env{environ: environ, stdin: os.Stdin, stdout: stdout, stderr: stderr}
	err := cmd.run(ctx, e, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "scriptsync %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "scriptsync %s: %v\n", args[0], err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: scriptsync <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nEvery command takes --config FILE (or %s). Run scriptsync <command> -h "+
		"for its flags.\n", config.EnvConfigFile)
}

// flags starts a command's flag set with the --config flag every command shares.
func (e *env) flags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("scriptsync "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("config", "", "configuration file (YAML); default $"+
		config.EnvConfigFile)
	return fs, path
}

// parse parses args, turning a bad flag into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return nil
}

// loadConfig loads the configuration over base, from the --config path or the file the
// environment names.
func (e *env) loadConfig(path string, base config.Config) (*config.Config, error) {
	if path == "" {
		path = e.getenv(config.EnvConfigFile)
	}
	cfg, err := config.LoadWith(base, path, e.environ)
	if err != nil {
		return cfg, usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	return cfg, nil
}

func (e *env) getenv(key string) string {
	for _, kv := range e.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// newLogger builds the process's logger from the log settings.
func newLogger(c config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, err
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Format == "console" {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		encCfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	sink := zapcore.AddSync(w)
	if f, ok := w.(*os.File); ok {
		sink = zapcore.Lock(f)
	}
	return zap.New(zapcore.NewCore(enc, sink, level), zap.ErrorOutput(sink)), nil
}

// newRegistry is the process's own metrics registry, with Go runtime and process metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
