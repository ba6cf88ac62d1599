package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/scriptsync/scriptsync/internal/adminapi"
	"github.com/scriptsync/scriptsync/internal/ops"
)

// reasons answers GET dead-letter-reasons?conversation_id=&since=&until= with the count
// of entries of each reason.
func (c *Console) reasons(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := queryTime(q, "since")
	if err != nil {
		badRequest(w, err)
		return
	}
	until, err := queryTime(q, "until")
	if err != nil {
		badRequest(w, err)
		return
	}
	conv := q.Get("conversation_id")
	if err := filterOf("", conv, since, until).Validate(); err != nil {
		badRequest(w, err)
		return
	}
	counts, err := c.countReasons(r.Context(), conv, since, until)
	if err != nil {
		c.fail(w, "count dead letters", err)
		return
	}
	writeJSON(w, http.StatusOK, counts)
}

// deleteRequest is the body of POST dead-letters/delete, shaped like a replay's: the
// entries' sequences, a filter, or all.
type deleteRequest struct {
	ops.Filter
	All    bool `json:"all"`
	DryRun bool `json:"dry_run"`
}

// deleteMany answers POST dead-letters/delete with the operation's result. Like a
// replay, a deletion that needs longer than adminapi.DefaultBudget stops between two
// entries and answers complete false; the client sends the same request again to go on.
func (c *Console) deleteMany(w http.ResponseWriter, r *http.Request) {
	var req deleteRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		badRequest(w, err)
		return
	}
	if req.IsZero() && !req.All {
		badRequest(w, errors.New(`choose entries: "sequences", a filter, or "all": true`))
		return
	}
	// As with a replay, a client that goes away does not cut the work short; it is
	// bounded here in case the stream stops answering.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()),
		2*adminapi.DefaultBudget)
	defer cancel()
	o := ops.RunOptions{DryRun: req.DryRun, Budget: adminapi.DefaultBudget}
	var res ops.Result
	var err error
	if req.IsZero() {
		res, err = c.ops.Purge(ctx, req.Filter, o)
	} else {
		res, err = c.ops.Delete(ctx, req.Filter, o)
	}
	fields := []zap.Field{zap.Bool("dry_run", res.DryRun), zap.Int("matched", res.Matched),
		zap.Int("deleted", res.Deleted), zap.Bool("complete", res.Complete),
		zap.String("remote_addr", r.RemoteAddr)}
	if err != nil {
		c.fail(w, "delete dead letters", err, fields...)
		return
	}
	if !req.DryRun {
		c.log.Info("dead letters deleted through the console", fields...)
	}
	writeJSON(w, http.StatusOK, res)
}

func filterOf(reason, conv string, since, until time.Time) ops.Filter {
	return ops.Filter{Reason: reason, ConversationID: conv, Since: since, Until: until}
}
