package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/broker"
)

// runEvents lists the latest events in the event stream. It prints ids and times, never
// the event's fields, which may hold phone numbers.
func runEvents(ctx context.Context, e *env, args []string) error {
	fs, path := e.flags("events")
	last := fs.Int("last", 20, "how many of the latest events to list")
	dev := fs.Bool("dev", false, "start from the defaults of scriptsync dev")
	if err := parse(fs, args); err != nil {
		return err
	}
	base := config.Default()
	if *dev {
		base = config.DevDefault()
	}
	cfg, err := e.loadConfig(*path, base)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := broker.Connect(ctx, cfg.NATS, false, zap.NewNop())
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := conn.JS.Stream(ctx, cfg.Stream.Name)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", cfg.Stream.Name, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tRECEIVED\tTYPE\tSOURCE\tCONVERSATION\tPARTICIPANT\tID")
	if *last < 1 {
		return usageError{fmt.Errorf("--last must be at least 1")}
	}
	first := info.State.FirstSeq
	if n := uint64(*last); info.State.LastSeq >= n && info.State.LastSeq-n+1 > first {
		first = info.State.LastSeq - n + 1
	}
	for seq := first; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read event %d: %w", seq, err)
		}
		ev, err := event.Unmarshal(msg.Data)
		if err != nil {
			fmt.Fprintf(tw, "%d\t-\t-\t-\t-\t-\t(undecodable: %v)\n", seq, err)
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", seq,
			ev.ReceivedAt.Format(time.RFC3339), ev.Type, ev.Source, ev.ConversationID,
			orDash(ev.ParticipantID), ev.ID)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
