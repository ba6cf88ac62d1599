package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/internal/broker"
	"github.com/scriptsync/scriptsync/internal/ops"
)

// This file holds what the operator commands (dlq, replay) share: the connection, the
// selection flags, time parsing, progress and confirmation.

// operatorFlags are the flags every operator command takes.
type operatorFlags struct {
	path *string
	dev  *bool
	json *bool
}

func (e *env) operatorFlags(name string) (*flag.FlagSet, operatorFlags) {
	fs, path := e.flags(name)
	return fs, operatorFlags{
		path: path,
		dev:  fs.Bool("dev", false, "start from the defaults of scriptsync dev"),
		json: fs.Bool("json", false, "print JSON instead of text"),
	}
}

// openOps loads the configuration and connects to NATS. close releases the connection.
func (e *env) openOps(ctx context.Context, of operatorFlags) (*ops.Service, *config.Config,
	func(), error) {
	base := config.Default()
	if *of.dev {
		base = config.DevDefault()
	}
	cfg, err := e.loadConfig(*of.path, base)
	if err != nil {
		return nil, nil, nil, err
	}
	// Waiting for NATS makes sense for a service, not for a command someone is watching.
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := broker.Connect(cctx, cfg.NATS, false, zap.NewNop())
	if err != nil {
		return nil, nil, nil, err
	}
	svc := ops.New(ops.Options{JS: conn.JS, Stream: cfg.Stream,
		DeadLetter: cfg.Worker.DeadLetter, Consumer: cfg.Worker.Consumer})
	return svc, cfg, conn.Close, nil
}

// parseArgs parses flags wherever they stand among the positional arguments, and returns
// the positional ones: "dlq show 42 --reveal" reads like "dlq show --reveal 42".
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// sequences reads positional arguments as dead-letter sequences.
func sequences(args []string) ([]uint64, error) {
	var out []uint64
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil || n == 0 {
			return nil, usageError{fmt.Errorf("%q is not a dead-letter sequence", a)}
		}
		out = append(out, n)
	}
	return out, nil
}

// whenFlag is a point in time given as RFC 3339 (2026-03-01T10:00:00Z), a date and time
// in UTC (2026-03-01T10:00 or 2026-03-01), or a duration before now (90m, 2h, 48h).
type whenFlag struct {
	t   time.Time
	now func() time.Time
}

func (w *whenFlag) String() string {
	if w == nil || w.t.IsZero() {
		return ""
	}
	return w.t.Format(time.RFC3339)
}

func (w *whenFlag) Set(s string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			w.t = t
			return nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want an RFC 3339 time, a date, or a duration before now such as 2h")
	}
	w.t = w.now().Add(-d)
	return nil
}

const whenHelp = " (RFC 3339, a UTC date, or a duration before now such as 2h)"

// timeFlags adds --since and --until.
func timeFlags(fs *flag.FlagSet, what string) (since, until *whenFlag) {
	since, until = &whenFlag{now: time.Now}, &whenFlag{now: time.Now}
	fs.Var(since, "since", "only "+what+" stored at or after this time"+whenHelp)
	fs.Var(until, "until", "only "+what+" stored before this time"+whenHelp)
	return since, until
}

// progress reports a long operation on stderr about once a second; an operation that ends
// within its first second says nothing there.
func (e *env) progress(verb string, done func(ops.Result) int) func(ops.Result) {
	last := time.Now()
	return func(r ops.Result) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(e.stderr, "%s: %d done, %d selected so far of at most %d\n", verb,
			done(r), r.Matched, r.Total)
	}
}

// confirm asks on stderr and reads the answer from stdin; only "yes" goes on.
func (e *env) confirm(question string) error {
	fmt.Fprintf(e.stderr, "%s Type yes to go on: ", question)
	answer, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && answer == "" {
		return errors.New("not confirmed (no answer); nothing changed")
	}
	if strings.TrimSpace(answer) != "yes" {
		return errors.New("not confirmed; nothing changed")
	}
	return nil
}

// printJSON writes v indented, for --json.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// describe names a filter's parts for a confirmation question.
func describe(f ops.Filter) string {
	var parts []string
	if f.Reason != "" {
		parts = append(parts, "reason "+f.Reason)
	}
	if f.ConversationID != "" {
		parts = append(parts, "conversation "+f.ConversationID)
	}
	if !f.Since.IsZero() {
		parts = append(parts, "since "+f.Since.Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		parts = append(parts, "until "+f.Until.Format(time.RFC3339))
	}
	if len(f.Sequences) > 0 {
		parts = append(parts, fmt.Sprintf("%d listed sequences", len(f.Sequences)))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}
