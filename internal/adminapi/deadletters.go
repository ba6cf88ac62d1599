package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/internal/ops"
)

// Listing limits: a page holds defaultLimit entries unless the request asks for up to
// maxLimit.
const (
	defaultLimit = 100
	maxLimit     = 1000
	maxBodyBytes = 64 << 10
)

// list answers GET dead-letters?reason=&conversation_id=&since=&until=&after=&limit=.
func (a *api) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := queryFilter(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	o := ops.ListOptions{Filter: f, Limit: defaultLimit}
	if o.After, err = queryUint(q, "after"); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusBadRequest, "bad_request",
				fmt.Sprintf("limit: want 1 to %d", maxLimit))
			return
		}
		o.Limit = n
	}
	page, err := a.ops.List(r.Context(), o)
	if err != nil {
		a.fail(w, "list dead letters", err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// show answers GET dead-letters/{seq}; phone numbers are masked unless reveal=true.
func (a *api) show(w http.ResponseWriter, r *http.Request) {
	seq, ok := pathSeq(w, r)
	if !ok {
		return
	}
	d, err := a.ops.Show(r.Context(), seq)
	if errors.Is(err, ops.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		a.fail(w, "show dead letter", err)
		return
	}
	if r.URL.Query().Get("reveal") != "true" {
		d.DeadLetter = ops.Masked(d.DeadLetter)
	}
	writeJSON(w, http.StatusOK, d)
}

// replayRequest is the body of POST dead-letters/replay: sequences, a filter, or all.
type replayRequest struct {
	ops.Filter
	All    bool `json:"all"`
	DryRun bool `json:"dry_run"`
}

// replay answers POST dead-letters/replay with the operation's result. A replay that
// needs longer than the budget stops between two entries and answers complete false.
func (a *api) replay(w http.ResponseWriter, r *http.Request) {
	var req replayRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if req.IsZero() && !req.All {
		writeError(w, http.StatusBadRequest, "bad_request",
			`choose entries: "sequences", a filter, or "all": true`)
		return
	}
	// A client that goes away does not cut an entry's replay in half: the work runs to
	// the end of its budget, bounded here in case the streams stop answering.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*a.budget)
	defer cancel()
	res, err := a.ops.Replay(ctx, req.Filter, ops.RunOptions{
		DryRun: req.DryRun, Rate: a.rate, Budget: a.budget,
	})
	fields := []zap.Field{zap.Bool("dry_run", res.DryRun), zap.Int("matched", res.Matched),
		zap.Int("replayed", res.Replayed), zap.Int("deleted", res.Deleted),
		zap.Bool("complete", res.Complete), zap.String("remote_addr", r.RemoteAddr)}
	if err != nil {
		a.fail(w, "replay dead letters", err, fields...)
		return
	}
	a.log.Info("dead letters replayed through the admin api", fields...)
	writeJSON(w, http.StatusOK, res)
}

// deleteOne answers DELETE dead-letters/{seq} with 204, or 404.
func (a *api) deleteOne(w http.ResponseWriter, r *http.Request) {
	seq, ok := pathSeq(w, r)
	if !ok {
		return
	}
	err := a.ops.DeleteOne(r.Context(), seq)
	if errors.Is(err, ops.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		a.fail(w, "delete dead letter", err, zap.Uint64("dead_letter_seq", seq))
		return
	}
	a.log.Info("dead letter deleted through the admin api", zap.Uint64("dead_letter_seq", seq),
		zap.String("remote_addr", r.RemoteAddr))
	w.WriteHeader(http.StatusNoContent)
}

// fail answers 503: the operation could not reach or change the streams.
func (a *api) fail(w http.ResponseWriter, what string, err error, fields ...zap.Field) {
	a.log.Warn(what+" failed", append(fields, zap.Error(err))...)
	writeError(w, http.StatusServiceUnavailable, "unavailable", what+": "+err.Error())
}

func pathSeq(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		writeError(w, http.StatusBadRequest, "bad_request",
			"the dead letter's sequence must be a positive number")
		return 0, false
	}
	return seq, true
}

func queryFilter(q url.Values) (ops.Filter, error) {
	f := ops.Filter{Reason: q.Get("reason"), ConversationID: q.Get("conversation_id")}
	var err error
	if f.Since, err = queryTime(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(q, "until"); err != nil {
		return f, err
	}
	return f, f.Validate()
}

func queryTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time such as "+
			"2026-03-01T10:00:00Z", name)
	}
	return t, nil
}

func queryUint(q url.Values, name string) (uint64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: want a stream sequence", name)
	}
	return n, nil
}
