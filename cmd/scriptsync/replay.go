package main

import (
	"context"
	"fmt"

	"github.com/scriptsync/scriptsync/internal/ops"
)

const replayHelp = `usage: scriptsync replay [flags]

Publishes events the event stream still holds (stream.max_age, 72h by default) to it
again, so the workers apply them once more: after a fix to lookup data, say. Each event
keeps its body and becomes a new delivery with the message id
<event id>:rerun:<unix seconds of this run>, marked with the Scriptsync-Replay-Of header.

Choose events by --since/--until (when they were stored), --conversation and --type;
every given filter must match. --all takes every event the stream holds.

Events still in flight are never published twice. The command first reads the workers'
consumer (worker.consumer) and publishes only events at or below its acknowledgement
floor: the stream sequence up to which every event has been settled (applied, skipped or
dead-lettered). Events above the floor are not yet delivered, still being retried, or
settled out of order; the consumer does not say which, so all of them are skipped and
counted as in flight. Run the command again once the workers have caught up.

Events whose dead letter is still in the dead-letter stream are skipped too: replay
those with scriptsync dlq replay, which also removes the entry. Within one run an event
id is published once, even if the stream holds an earlier replay of it.

flags:
`

// runReplay re-runs settled events of the event stream.
func runReplay(ctx context.Context, e *env, args []string) error {
	fs, of := e.operatorFlags("replay")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, replayHelp)
		fs.PrintDefaults()
	}
	since, until := timeFlags(fs, "events")
	conv := fs.String("conversation", "", "only events of this conversation id")
	typ := fs.String("type", "", "only events of this type (user.start, customer.start, ...)")
	all := fs.Bool("all", false, "every event the stream holds (needed without another filter)")
	dry := fs.Bool("dry-run", false, "count what would be published; change nothing")
	rate := fs.Float64("rate", 0, "events published per second; default admin.replay_rate (5)")
	if err := parse(fs, args); err != nil {
		return err
	}
	f := ops.RerunFilter{ConversationID: *conv, Type: *typ, Since: since.t, Until: until.t,
		All: *all}
	if err := f.Validate(); err != nil {
		return usageError{err}
	}
	svc, cfg, closeConn, err := e.openOps(ctx, of)
	if err != nil {
		return err
	}
	defer closeConn()
	if *rate <= 0 {
		*rate = cfg.Admin.ReplayRate
	}
	res, err := svc.Rerun(ctx, f, ops.RunOptions{DryRun: *dry, Rate: *rate,
		Progress: e.progress("replay", func(r ops.Result) int { return r.Replayed })})
	if err != nil {
		if res.RunID == "" {
			return err
		}
		return fmt.Errorf("%w (so far: %d published)", err, res.Replayed)
	}
	if *of.json {
		return e.printJSON(res)
	}
	return e.printRerun(res)
}

func (e *env) printRerun(res ops.Result) error {
	verb := "published"
	if res.DryRun {
		verb = "would publish"
	}
	fmt.Fprintf(e.stdout, "%s %d of %d selected events (run %s, %d already stored by a "+
		"run in the same second)\n", verb, res.Replayed, res.Matched, res.RunID,
		res.Duplicates)
	fmt.Fprintf(e.stdout, "skipped: %d in flight (above the ack floor %d), %d waiting as "+
		"dead letters, %d repeated ids, %d undecodable\n", res.InFlight, res.AckFloor,
		res.DeadLettered, res.Repeated, res.Undecodable)
	return nil
}
