package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Delete removes the selected entries without replaying them. With a zero filter it
// refuses: removing everything is Purge's job.
func (s *Service) Delete(ctx context.Context, f Filter, o RunOptions) (Result, error) {
	if f.IsZero() {
		return Result{}, errors.New("delete needs sequences or a filter; purge removes everything")
	}
	return s.remove(ctx, f, o)
}

// Purge removes every selected entry; with a zero filter, the whole stream. A purge by
// reason or conversation alone is one request to the server; with a time range or
// sequences it removes entries one by one, like Delete.
func (s *Service) Purge(ctx context.Context, f Filter, o RunOptions) (Result, error) {
	if f.Since.IsZero() && f.Until.IsZero() && len(f.Sequences) == 0 {
		return s.purgeSubject(ctx, f, o)
	}
	return s.remove(ctx, f, o)
}

func (s *Service) remove(ctx context.Context, f Filter, o RunOptions) (Result, error) {
	if err := f.Validate(); err != nil {
		return Result{}, err
	}
	r, err := newRunner(o, s.now())
	if err != nil {
		return Result{}, err
	}
	st, _, err := s.deadStream(ctx)
	if err != nil {
		return Result{}, err
	}
	stopped := false
	err = s.eachEntry(ctx, st, s.runSelection(f, r), func(d Detail) error {
		if r.overBudget(s.now()) {
			stopped = true
			return errStop
		}
		defer r.report()
		r.res.Matched++
		if o.DryRun {
			r.res.Deleted++
			return nil
		}
		gone, err := deleteEntry(ctx, st, d.Sequence)
		if err != nil {
			return fmt.Errorf("delete dead letter %d: %w", d.Sequence, err)
		}
		if gone {
			r.res.Deleted++
		}
		return nil
	})
	return r.finish(err, stopped)
}

// purgeSubject removes every entry on the filter's subject in one request. The count is
// read from the stream before and after, so entries a worker stores meanwhile can make it
// off by those.
func (s *Service) purgeSubject(ctx context.Context, f Filter, o RunOptions) (Result, error) {
	n, err := s.Count(ctx, f)
	if err != nil {
		return Result{}, err
	}
	res := Result{DryRun: o.DryRun, Total: uint64(n), Matched: n} //nolint:gosec // n >= 0
	if o.DryRun || n == 0 {
		if o.DryRun {
			res.Deleted = n
		}
		res.Complete = true
		return res, nil
	}
	st, ok, err := s.deadStream(ctx)
	if err != nil || !ok {
		res.Complete = err == nil
		return res, err
	}
	before, err := st.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("stream info: %w", err)
	}
	var opts []jetstream.StreamPurgeOpt
	if !f.IsZero() {
		opts = append(opts, jetstream.WithPurgeSubject(f.subject(s.dead.SubjectPrefix)))
	}
	if err := st.Purge(ctx, opts...); err != nil {
		return res, fmt.Errorf("purge %s: %w", s.dead.Stream, err)
	}
	after, err := st.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("stream info: %w", err)
	}
	res.Deleted = max(int(before.State.Msgs)-int(after.State.Msgs), 0) //nolint:gosec // counts
	res.Complete = true
	if o.Progress != nil {
		o.Progress(res)
	}
	return res, nil
}

// deleteEntry removes one entry. gone is false when another operation removed it first,
// which is not an error: the entry is gone either way.
func deleteEntry(ctx context.Context, st jetstream.Stream, seq uint64) (bool, error) {
	if st == nil {
		return false, nil
	}
	err := st.DeleteMsg(ctx, seq)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		return false, fmt.Errorf("delete message %d: %w", seq, err)
	}
	// The server says only that it did not delete: find out whether the entry is there.
	if _, found, gerr := getMsg(ctx, st, seq); gerr == nil && !found {
		return false, nil
	}
	return false, fmt.Errorf("delete message %d: %w", seq, err)
}

// DeleteOne removes the entry at seq, or reports ErrNotFound.
func (s *Service) DeleteOne(ctx context.Context, seq uint64) error {
	st, _, err := s.deadStream(ctx)
	if err != nil {
		return err
	}
	gone, err := deleteEntry(ctx, st, seq)
	if err != nil {
		return err
	}
	if !gone {
		return fmt.Errorf("dead letter %d: %w", seq, ErrNotFound)
	}
	return nil
}
