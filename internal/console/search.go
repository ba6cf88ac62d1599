package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scriptsync/scriptsync/event"
	"github.com/scriptsync/scriptsync/internal/ops"
)

// Search limits: a search answers with a conversation's last maxSearchEvents events and
// first maxSearchDeadLetters dead letters, and reads for at most searchTimeout.
const (
	maxSearchEvents      = 200
	maxSearchDeadLetters = 200
	searchTimeout        = 10 * time.Second
	fetchWait            = 2 * time.Second
)

// searchBody is the answer of GET /admin/v1/search.
type searchBody struct {
	ConversationID string `json:"conversation_id"`
	// Events are the conversation's events the event stream still holds, oldest first:
	// the last maxSearchEvents of EventsTotal.
	Events      []foundEvent `json:"events"`
	EventsTotal uint64       `json:"events_total"`
	// AckFloor is the workers' acknowledgement floor: every event at or below it is
	// settled. Zero when the consumer could not be read.
	AckFloor uint64 `json:"ack_floor"`
	// DeadLetters are the conversation's dead-letter entries, oldest first; More is true
	// when there are more than were listed.
	DeadLetters     []ops.Entry `json:"dead_letters"`
	DeadLettersMore bool        `json:"dead_letters_more,omitempty"`
}

// foundEvent is one message of the event stream.
type foundEvent struct {
	Sequence uint64    `json:"sequence"`
	StoredAt time.Time `json:"stored_at"`
	// ReplayOf is the original event id when an operator published the event again.
	ReplayOf string `json:"replay_of,omitempty"`
	// Settled is true when the event is at or below the workers' acknowledgement floor.
	// An event above it may still be waiting, being retried, or settled out of order.
	Settled bool `json:"settled"`
	// Event is the event, its phone numbers masked unless revealed; nil when the
	// message is not an event (Undecodable).
	Event       *event.Event `json:"event,omitempty"`
	Undecodable bool         `json:"undecodable,omitempty"`
}

// search answers GET search?conversation_id=&reveal= with the conversation's events in
// the event stream and its dead letters. Phone numbers are masked unless reveal=true.
func (c *Console) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	conv := q.Get("conversation_id")
	if conv == "" {
		badRequest(w, errors.New("conversation_id: required"))
		return
	}
	if err := (ops.Filter{ConversationID: conv}).Validate(); err != nil {
		badRequest(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), searchTimeout)
	defer cancel()
	body := searchBody{ConversationID: conv}
	var err error
	if body.Events, body.EventsTotal, err = c.conversationEvents(ctx, conv); err != nil {
		c.fail(w, "search the event stream", err)
		return
	}
	if l, err := c.js.Consumer(ctx, c.stream.Name, c.cons); err == nil {
		body.AckFloor = l.CachedInfo().AckFloor.Stream
	}
	reveal := q.Get("reveal") == "true"
	for i := range body.Events {
		e := &body.Events[i]
		e.Settled = e.Sequence <= body.AckFloor
		if !reveal && e.Event != nil {
			e.Event = ops.Masked(&event.DeadLetter{Event: e.Event}).Event
		}
	}
	page, err := c.ops.List(ctx, ops.ListOptions{Filter: ops.Filter{ConversationID: conv},
		Limit: maxSearchDeadLetters})
	if err != nil {
		c.fail(w, "search the dead letters", err)
		return
	}
	body.DeadLetters, body.DeadLettersMore = page.Entries, page.Next != 0
	writeJSON(w, http.StatusOK, body)
}

// conversationEvents reads the conversation's events from the event stream, keeping the
// last maxSearchEvents; total is how many the stream held when the read began.
func (c *Console) conversationEvents(ctx context.Context, conv string) ([]foundEvent,
	uint64, error) {
	st, err := c.js.Stream(ctx, c.stream.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return []foundEvent{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open stream %s: %w", c.stream.Name, err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{c.stream.SubjectPrefix + ".*." + conv},
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read stream %s: %w", c.stream.Name, err)
	}
	defer deleteConsumer(st, cons.CachedInfo().Name)
	total := cons.CachedInfo().NumPending
	found := make([]foundEvent, 0, min(total, maxSearchEvents))
	for read := uint64(0); read < total; {
		batch, err := cons.Fetch(int(min(total-read, 256)), //nolint:gosec // at most 256
			jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			return nil, 0, fmt.Errorf("read stream %s: %w", c.stream.Name, err)
		}
		n := uint64(0)
		for m := range batch.Messages() {
			n++
			if f, ok := foundOf(m); ok {
				found = append(found, f)
			}
			if len(found) > maxSearchEvents {
				found = append(found[:0], found[1:]...)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, 0, fmt.Errorf("read stream %s: %w", c.stream.Name, err)
		}
		if n == 0 {
			break // the rest was removed while the search ran
		}
		read += n
	}
	return found, total, nil
}

func foundOf(m jetstream.Msg) (foundEvent, bool) {
	meta, err := m.Metadata()
	if err != nil {
		return foundEvent{}, false
	}
	f := foundEvent{Sequence: meta.Sequence.Stream, StoredAt: meta.Timestamp.UTC(),
		ReplayOf: m.Headers().Get(event.HeaderReplayOf)}
	ev, err := event.Unmarshal(m.Data())
	if err != nil {
		f.Undecodable = true
		return f, true
	}
	f.Event = ev
	return f, true
}

// deleteConsumer removes a search's consumer at once rather than leaving it to the
// server's inactivity clean-up.
func deleteConsumer(st jetstream.Stream, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = st.DeleteConsumer(ctx, name)
}
