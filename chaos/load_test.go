package chaos

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// sent is one event the load generator made, and what the ingest answered about it.
type sent struct {
	id   string
	conv int
	bad  bool
	body []byte

	// Set by the sender goroutine that owns the event; read after the load has ended.
	acceptedAt time.Time // first 2xx; zero when none came
	posts      int
	duplicates int // 2xx answers that said duplicate: true
}

// loader sends flat events to the ingest, signed as a relay would sign them. Each event
// is posted copies times in a row, and a post that is not answered 2xx is sent again, as
// a sender retries, until it is accepted or the retry deadline passes.
type loader struct {
	url    string
	prefix string
	convs  int
	copies int
	hc     *http.Client

	mu     sync.Mutex
	events []*sent
	seq    atomic.Int64
}

func newLoader(ingestAddr, prefix string, convs, copies int) *loader {
	tr := &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders}
	return &loader{
		url: "http://" + ingestAddr + "/v1/events", prefix: prefix, convs: convs,
		copies: copies, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second},
	}
}

// senders bounds the requests in flight to the ingest.
const senders = 32

// run sends rate events a second for d, then keeps retrying unanswered ones until
// retryUntil. It returns when every event is accepted or given up on.
func (l *loader) run(ctx context.Context, rate int, d, retryFor time.Duration) {
	total := int(float64(rate) * d.Seconds())
	queue := make(chan *sent, total)
	retryUntil := time.Now().Add(d + retryFor)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for ev := range queue {
				l.deliver(ctx, ev, retryUntil)
			}
		})
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		queue <- l.next()
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	close(queue)
	wg.Wait()
	l.hc.CloseIdleConnections()
}

// next makes the next event. Conversations are taken in turn, so each sees events spread
// over the whole load; every 50th conversation's record is unusable, so its events must
// end in the dead-letter stream.
func (l *loader) next() *sent {
	n := int(l.seq.Add(1))
	conv := n % l.convs
	ev := &sent{id: fmt.Sprintf("%se%06d", l.prefix, n), conv: conv, bad: badConv(conv)}
	ev.body = fmt.Appendf(nil, `{"eventId":%q,"eventType":"agent:script:step:entered",`+
		`"occurredAt":%q,"conversationId":%q,"participantId":%q,"ani":"tel:%s",`+
		`"stepId":"step-%d"}`, ev.id, time.Now().UTC().Format(time.RFC3339Nano),
		convID(l.prefix, conv), participantID(conv), phone(conv), n)
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
	return ev
}

func (l *loader) deliver(ctx context.Context, ev *sent, retryUntil time.Time) {
	for copyN := 0; copyN < l.copies; copyN++ {
		for attempt := 0; attempt < maxPosts && ctx.Err() == nil; attempt++ {
			if l.post(ctx, ev) {
				break
			}
			if time.Now().After(retryUntil) {
				return
			}
			sleep(ctx, 250*time.Millisecond)
		}
	}
}

// maxPosts bounds the posts of one copy of one event.
const maxPosts = 400

// post sends the event once and reports whether it was answered 2xx.
func (l *loader) post(ctx context.Context, ev *sent) bool {
	ev.posts++
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(ev.body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", sign(ev.body))
	resp, err := l.hc.Do(req)
	if err != nil {
		return false
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return false
	}
	var ans struct {
		ID        string `json:"id"`
		Duplicate bool   `json:"duplicate"`
	}
	if json.Unmarshal(data, &ans) != nil || ans.ID != ev.id {
		return false
	}
	if ev.acceptedAt.IsZero() {
		ev.acceptedAt = time.Now()
	}
	if ans.Duplicate {
		ev.duplicates++
	}
	return true
}

// repost sends already accepted events once more, as a sender whose answer was lost
// would, and counts the answers that said duplicate.
func (l *loader) repost(ctx context.Context, evs []*sent) (sentN, dup int) {
	for _, ev := range evs {
		before := ev.duplicates
		if l.post(ctx, ev) {
			sentN++
			dup += ev.duplicates - before
		}
	}
	return sentN, dup
}

// snapshot returns the events made so far.
func (l *loader) snapshot() []*sent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*sent(nil), l.events...)
}

func sign(body []byte) string {
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(body)
	return "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func convID(prefix string, i int) string    { return fmt.Sprintf("%sc%04d", prefix, i) }
func participantID(i int) string            { return fmt.Sprintf("p%04d", i) }
func phone(i int) string                    { return fmt.Sprintf("+1415700%04d", i) }
func badConv(i int) bool                    { return i%50 == 49 }
func recordKey(prefix string, i int) string { return prefix + "customer:" + phone(i) }
