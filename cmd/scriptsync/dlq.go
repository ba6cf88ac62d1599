package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scriptsync/scriptsync/internal/ops"
)

// dlqCommands are the subcommands of scriptsync dlq.
var dlqCommands = map[string]struct {
	usage string
	run   func(ctx context.Context, e *env, args []string) error
}{
	"list":   {"list entries (a table, or --json); never prints the event's fields", dlqList},
	"show":   {"show one entry: SEQ [--reveal]; phone numbers masked unless --reveal", dlqShow},
	"replay": {"publish entries' events again and remove the entries: SEQ... or a filter or --all", dlqReplay},
	"delete": {"remove entries without replaying them: SEQ... or a filter", dlqDelete},
	"purge":  {"remove every entry, or every entry a filter selects", dlqPurge},
}

// runDLQ dispatches scriptsync dlq's subcommands.
func runDLQ(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		e.dlqUsage()
		if len(args) == 0 {
			return usageError{errors.New("a subcommand is required")}
		}
		return nil
	}
	sub, ok := dlqCommands[args[0]]
	if !ok {
		e.dlqUsage()
		return usageError{fmt.Errorf("unknown subcommand %q", args[0])}
	}
	return sub.run(ctx, e, args[1:])
}

func (e *env) dlqUsage() {
	fmt.Fprintln(e.stderr, "usage: scriptsync dlq <subcommand> [flags]\n\nsubcommands:")
	names := make([]string, 0, len(dlqCommands))
	for n := range dlqCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(e.stderr, "  %-7s %s\n", n, dlqCommands[n].usage)
	}
	fmt.Fprintln(e.stderr, "\nFilters: --reason, --conversation, --since, --until. "+
		"Run scriptsync dlq <subcommand> -h for the flags.")
}

// filterFlags adds the selection flags of the dead-letter subcommands.
type filterFlags struct {
	reason, conversation *string
	since, until         *whenFlag
}

func addFilterFlags(fs *flag.FlagSet) filterFlags {
	ff := filterFlags{
		reason: fs.String("reason", "", "only entries with this reason ("+
			strings.Join(ops.Reasons, ", ")+")"),
		conversation: fs.String("conversation", "", "only entries of this conversation id"),
	}
	ff.since, ff.until = timeFlags(fs, "entries")
	return ff
}

func (ff filterFlags) filter(seqs []uint64) (ops.Filter, error) {
	f := ops.Filter{Reason: *ff.reason, ConversationID: *ff.conversation,
		Since: ff.since.t, Until: ff.until.t, Sequences: seqs}
	if err := f.Validate(); err != nil {
		return f, usageError{err}
	}
	return f, nil
}

func dlqList(ctx context.Context, e *env, args []string) error {
	fs, of := e.operatorFlags("dlq list")
	ff := addFilterFlags(fs)
	limit := fs.Int("limit", 1000, "list at most this many entries")
	after := fs.Uint64("after", 0, "start after this dead-letter sequence (to page)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	f, err := ff.filter(nil)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *limit < 1 {
		return usageError{errors.New("list takes no arguments, and --limit must be at least 1")}
	}
	svc, _, closeConn, err := e.openOps(ctx, of)
	if err != nil {
		return err
	}
	defer closeConn()
	page, err := svc.List(ctx, ops.ListOptions{Filter: f, After: *after, Limit: *limit})
	if err != nil {
		return err
	}
	if *of.json {
		return e.printJSON(page)
	}
	if err := e.printEntries(page.Entries); err != nil {
		return err
	}
	if page.Next != 0 {
		fmt.Fprintf(e.stderr, "more entries follow: run again with --after %d\n", page.Next)
	}
	return nil
}

// printEntries is the list's table: ids, reason, error class and codes, attempts and
// times; never an event field, which may hold a phone number.
func (e *env) printEntries(entries []ops.Entry) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tDEAD-LETTERED\tREASON\tCLASS\tSTATUS\tCODE\tATTEMPTS\tFIRST-ATTEMPT\t"+
		"CONVERSATION\tEVENT\tCORRELATION")
	for _, en := range entries {
		status := "-"
		if en.Status != 0 {
			status = strconv.Itoa(en.Status)
		}
		first := "-"
		if !en.FirstAttempt.IsZero() {
			first = en.FirstAttempt.UTC().Format(time.RFC3339)
		}
		event := orDash(en.EventID)
		if en.Undecodable {
			event = "(entry undecodable)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", en.Sequence,
			en.StoredAt.UTC().Format(time.RFC3339), orDash(en.Reason), orDash(en.Class),
			status, orDash(en.Code), en.Attempts, first, orDash(en.ConversationID), event,
			orDash(en.CorrelationID))
	}
	if len(entries) == 0 {
		fmt.Fprintln(e.stderr, "no dead letters match")
	}
	return tw.Flush()
}

func dlqShow(ctx context.Context, e *env, args []string) error {
	fs, of := e.operatorFlags("dlq show")
	reveal := fs.Bool("reveal", false, "print phone numbers and the raw request body as stored")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	seqs, err := sequences(pos)
	if err != nil {
		return err
	}
	if len(seqs) != 1 {
		return usageError{errors.New("usage: scriptsync dlq show SEQ [--reveal] [--json]")}
	}
	svc, _, closeConn, err := e.openOps(ctx, of)
	if err != nil {
		return err
	}
	defer closeConn()
	d, err := svc.Show(ctx, seqs[0])
	if err != nil {
		return err
	}
	if !*reveal {
		d.DeadLetter = ops.Masked(d.DeadLetter)
	}
	if *of.json {
		return e.printJSON(d)
	}
	return e.printDetail(d, *reveal)
}

func (e *env) printDetail(d *ops.Detail, reveal bool) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("sequence", strconv.FormatUint(d.Sequence, 10))
	row("dead-lettered", d.StoredAt.UTC().Format(time.RFC3339Nano))
	row("reason", d.Reason)
	if d.DeadLetter == nil {
		row("entry", "undecodable: it can only be deleted")
		return tw.Flush()
	}
	dl := d.DeadLetter
	row("summary", dl.Summary)
	row("error", fmt.Sprintf("class %s, status %s, code %s, correlation id %s",
		orDash(dl.Error.Class), orDash(strconv.Itoa(dl.Error.Status)), orDash(dl.Error.Code),
		orDash(dl.Error.CorrelationID)))
	row("message", orDash(dl.Error.Message))
	row("attempts", fmt.Sprintf("%d, first %s, last %s", dl.Attempts,
		dl.FirstAttempt.UTC().Format(time.RFC3339), dl.LastAttempt.UTC().Format(time.RFC3339)))
	row("worker", orDash(dl.Worker))
	row("event sequence", strconv.FormatUint(dl.StreamSequence, 10))
	if err := tw.Flush(); err != nil {
		return err
	}
	if dl.Event == nil {
		fmt.Fprintln(e.stdout, "event: none (the stream message was not an event)")
		if reveal && len(dl.Undecodable) > 0 {
			fmt.Fprintf(e.stdout, "message as stored: %s\n", dl.Undecodable)
		}
		return nil
	}
	fmt.Fprintln(e.stdout, "event:")
	if err := e.printJSON(dl.Event); err != nil {
		return err
	}
	if !reveal {
		fmt.Fprintln(e.stdout, "(phone numbers masked and the raw body left out; "+
			"--reveal prints them)")
	}
	return nil
}

func dlqReplay(ctx context.Context, e *env, args []string) error {
	fs, of := e.operatorFlags("dlq replay")
	ff := addFilterFlags(fs)
	all := fs.Bool("all", false, "replay every entry (needed when no sequence or filter is given)")
	dry := fs.Bool("dry-run", false, "count what would be replayed; change nothing")
	rate := fs.Float64("rate", 0, "events published per second; default admin.replay_rate (5)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	f, err := selection(ff, pos, *all)
	if err != nil {
		return err
	}
	svc, cfg, closeConn, err := e.openOps(ctx, of)
	if err != nil {
		return err
	}
	defer closeConn()
	if *rate <= 0 {
		*rate = cfg.Admin.ReplayRate
	}
	res, err := svc.Replay(ctx, f, ops.RunOptions{DryRun: *dry, Rate: *rate,
		Progress: e.progress("replay", func(r ops.Result) int { return r.Replayed })})
	if err != nil {
		return fmt.Errorf("%w (so far: %d replayed, %d entries removed)", err, res.Replayed,
			res.Deleted)
	}
	if *of.json {
		return e.printJSON(res)
	}
	verb := "replayed"
	if res.DryRun {
		verb = "would replay"
	}
	fmt.Fprintf(e.stdout, "%s %d of %d selected entries (%d already stored within the "+
		"duplicates window); %d entries removed\n", verb, res.Replayed, res.Matched,
		res.Duplicates, res.Deleted)
	e.printLeftovers(res)
	return nil
}

// selection builds the entries a changing subcommand works on: listed sequences, a
// filter, or everything when all is set.
func selection(ff filterFlags, pos []string, all bool) (ops.Filter, error) {
	seqs, err := sequences(pos)
	if err != nil {
		return ops.Filter{}, err
	}
	f, err := ff.filter(seqs)
	if err != nil {
		return f, err
	}
	if f.IsZero() && !all {
		return f, usageError{errors.New("choose entries: sequences, a filter, or --all")}
	}
	return f, nil
}

func (e *env) printLeftovers(res ops.Result) {
	if res.Undecodable > 0 {
		fmt.Fprintf(e.stdout, "%d undecodable entries left in place (delete them)\n",
			res.Undecodable)
	}
	if len(res.NotFound) > 0 {
		fmt.Fprintf(e.stdout, "not found: %v\n", res.NotFound)
	}
}

func dlqDelete(ctx context.Context, e *env, args []string) error {
	return dlqRemove(ctx, e, "delete", args)
}

func dlqPurge(ctx context.Context, e *env, args []string) error {
	return dlqRemove(ctx, e, "purge", args)
}

// dlqRemove runs delete (sequences or a filter) and purge (everything, or a filter),
// after asking.
func dlqRemove(ctx context.Context, e *env, verb string, args []string) error {
	fs, of := e.operatorFlags("dlq " + verb)
	ff := addFilterFlags(fs)
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	dry := fs.Bool("dry-run", false, "count what would be removed; change nothing")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	f, err := selection(ff, pos, true)
	if err != nil {
		return err
	}
	switch {
	case verb == "delete" && f.IsZero():
		return usageError{errors.New("choose entries: sequences or a filter " +
			"(purge removes everything)")}
	case verb == "purge" && len(f.Sequences) > 0:
		return usageError{errors.New("purge takes filters, not sequences; use delete")}
	}
	svc, _, closeConn, err := e.openOps(ctx, of)
	if err != nil {
		return err
	}
	defer closeConn()
	if !*yes && !*dry {
		n, err := svc.Count(ctx, f)
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintln(e.stdout, "no dead letters match; nothing to remove")
			return nil
		}
		if err := e.confirm(fmt.Sprintf("This removes %d dead letters (%s) for good.", n,
			describe(f))); err != nil {
			return err
		}
	}
	run := svc.Delete
	if verb == "purge" {
		run = svc.Purge
	}
	res, err := run(ctx, f, ops.RunOptions{DryRun: *dry,
		Progress: e.progress(verb, func(r ops.Result) int { return r.Deleted })})
	if err != nil {
		return fmt.Errorf("%w (so far: %d entries removed)", err, res.Deleted)
	}
	if *of.json {
		return e.printJSON(res)
	}
	if res.DryRun {
		fmt.Fprintf(e.stdout, "would remove %d entries\n", res.Deleted)
	} else {
		fmt.Fprintf(e.stdout, "removed %d entries\n", res.Deleted)
	}
	e.printLeftovers(res)
	return nil
}
