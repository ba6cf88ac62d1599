package sim

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Errors of the Go and admin APIs.
var (
	// ErrNotFound: no conversation or participant has that id.
	ErrNotFound = errors.New("not found")
	// ErrExists: a conversation or participant with that id is already registered.
	ErrExists = errors.New("already exists")
)

// Bounds on what the simulator remembers, so a long benchmark cannot exhaust memory.
const (
	// maxWriteLog is the number of writes kept in the log; later writes are still
	// applied and counted, and Counts.WriteLogDropped says how many were not logged.
	maxWriteLog = 100_000
	// maxReadsPerKey is how many unconsumed reads are kept per token and participant;
	// older ones are forgotten.
	maxReadsPerKey = 16
)

// ConversationSpec registers a conversation.
type ConversationSpec struct {
	// ID is the conversation id; empty generates one.
	ID string
	// Participants are present from the start.
	Participants []ParticipantSpec
	// ReadinessDelay is how long the conversation answers "not found" after registration.
	ReadinessDelay time.Duration
	// EndAfter ends the conversation this long after registration: every participant
	// becomes disconnected. Zero means it does not end on its own.
	EndAfter time.Duration
}

// ParticipantSpec adds a participant.
type ParticipantSpec struct {
	// ID is the participant id; empty generates one.
	ID string
	// Purpose is customer, agent, acd, ivr, external, ... Empty means customer.
	Purpose string
	// Attributes are the participant's attributes at start.
	Attributes map[string]string
	// ReadinessDelay keeps this participant invisible this long after it is added. The
	// delays do not add up: the participant becomes visible at the later of its own ready
	// time and the conversation's, as a participant cannot be seen in a conversation that
	// cannot be.
	ReadinessDelay time.Duration
}

// Counts are what the simulator has seen since start or the last Reset.
type Counts struct {
	// TokenRequests counts calls to the token endpoint, refused ones included.
	TokenRequests int `json:"token_requests"`
	// TokensIssued counts tokens handed out.
	TokensIssued int `json:"tokens_issued"`
	// APIRequests counts calls to /api/v2/..., whatever their answer.
	APIRequests int `json:"api_requests"`
	// Reads and Writes count successful conversation reads and attribute writes.
	Reads  int `json:"reads"`
	Writes int `json:"writes"`
	// NotReady counts calls answered "not found" for a known but not yet visible id.
	NotReady int `json:"not_ready"`
	// NotFound counts calls naming an id the simulator does not know.
	NotFound int `json:"not_found"`
	// Unauthorized counts calls answered 401 (no token, unknown, expired or revoked).
	Unauthorized int `json:"unauthorized"`
	// RateLimited counts calls answered 429.
	RateLimited int `json:"rate_limited"`
	// InjectedErrors counts calls answered 500 or 503 by the error fault.
	InjectedErrors int `json:"injected_errors"`
	// TokenErrors counts token requests answered 503 by the token fault.
	TokenErrors int `json:"token_errors"`
	// Hung counts calls held by the hang fault.
	Hung int `json:"hung"`
	// StaleWrites counts writes whose writer's latest unconsumed read of the participant
	// saw an older version than the one the write replaced.
	StaleWrites int `json:"stale_writes"`
	// OverlappingWrites counts writes that arrived while another write to the same
	// participant was still in flight.
	OverlappingWrites int `json:"overlapping_writes"`
	// LostUpdates counts writes that were stale, overlapping, or both.
	LostUpdates int `json:"lost_updates"`
	// BlindWrites counts writes with no unconsumed read of the participant by the same
	// token before them. Not a lost update by itself: the writer may not need to read.
	BlindWrites int `json:"blind_writes"`
	// WritesAfterEnd counts writes to a participant that had already ended. Genesys
	// accepts them, but analytics does not keep them.
	WritesAfterEnd int `json:"writes_after_end"`
	// WriteLogDropped counts writes applied but left out of the full write log.
	WriteLogDropped int `json:"write_log_dropped"`
}

// Write is one applied attribute write.
type Write struct {
	// Time is when the write was applied.
	Time           time.Time `json:"time"`
	ConversationID string    `json:"conversation_id"`
	ParticipantID  string    `json:"participant_id"`
	// Path is "generic" or the per-media segment used (calls, chats, ...).
	Path string `json:"path"`
	// Attributes are the attributes sent.
	Attributes map[string]string `json:"attributes"`
	// Version is the participant's version after this write; registration is version 0.
	Version uint64 `json:"version"`
	// ReadVersion is the version the write's read saw; meaningless when Blind.
	ReadVersion uint64 `json:"read_version"`
	// Blind, Stale, Overlapping and AfterEnd say how Counts classed the write.
	Blind       bool `json:"blind,omitempty"`
	Stale       bool `json:"stale,omitempty"`
	Overlapping bool `json:"overlapping,omitempty"`
	AfterEnd    bool `json:"after_end,omitempty"`
}

// State is everything the simulator holds, as the admin API shows it.
type State struct {
	Conversations []ConversationState `json:"conversations"`
	Writes        []Write             `json:"writes"`
	Counts        Counts              `json:"counts"`
}

// ConversationState is one conversation as the simulator holds it.
type ConversationState struct {
	ID        string    `json:"id"`
	StartTime time.Time `json:"start_time"`
	// ReadyAt is when the conversation becomes visible to the API.
	ReadyAt time.Time `json:"ready_at"`
	// EndTime is when it ended or will end; zero when no end is set.
	EndTime      time.Time          `json:"end_time,omitzero"`
	AutoCreated  bool               `json:"auto_created,omitempty"`
	Participants []ParticipantState `json:"participants"`
}

// ParticipantState is one participant as the simulator holds it.
type ParticipantState struct {
	ID      string `json:"id"`
	Purpose string `json:"purpose"`
	// State is connected or disconnected, as of now.
	State     string    `json:"state"`
	StartTime time.Time `json:"start_time"`
	ReadyAt   time.Time `json:"ready_at"`
	// EndTime is when the participant ended or will end; zero when no end is set.
	EndTime    time.Time         `json:"end_time,omitzero"`
	Attributes map[string]string `json:"attributes"`
	// Version counts the writes applied to the participant.
	Version uint64 `json:"version"`
	// InFlight is the number of writes to the participant in progress.
	InFlight int `json:"in_flight"`
}

type conversation struct {
	id           string
	start        time.Time
	readyAt      time.Time
	endAt        time.Time // zero: no end set
	auto         bool
	participants []*participant
}

type participant struct {
	id, purpose string
	start       time.Time
	readyAt     time.Time
	endAt       time.Time
	attrs       map[string]string
	version     uint64
	inFlight    int
}

// readKey names one reader's view of one participant: the reader is the bearer token.
type readKey struct{ token, conv, participant string }

// rateWindow is one token's fixed one-minute window for the rate-limit fault.
type rateWindow struct {
	start time.Time
	count int
}

// state is the Server's data, guarded by Server.mu.
type state struct {
	faults  Faults
	tokens  map[string]time.Time // token to expiry
	windows map[string]*rateWindow
	convs   map[string]*conversation
	reads   map[readKey][]uint64 // unconsumed read versions, oldest first
	writes  []Write
	counts  Counts
}

func newState(f Faults) state {
	return state{
		faults:  f,
		tokens:  map[string]time.Time{},
		windows: map[string]*rateWindow{},
		convs:   map[string]*conversation{},
		reads:   map[readKey][]uint64{},
	}
}

func (c *conversation) ended(now time.Time) bool {
	return !c.endAt.IsZero() && !now.Before(c.endAt)
}

func (c *conversation) participant(id string) *participant {
	for _, p := range c.participants {
		if p.id == id {
			return p
		}
	}
	return nil
}

// endTime is when the participant ends: its own end or the conversation's, the earlier.
func (p *participant) endTime(c *conversation) time.Time {
	switch {
	case p.endAt.IsZero():
		return c.endAt
	case c.endAt.IsZero() || p.endAt.Before(c.endAt):
		return p.endAt
	}
	return c.endAt
}

func (p *participant) ended(c *conversation, now time.Time) bool {
	end := p.endTime(c)
	return !end.IsZero() && !now.Before(end)
}

func (st *state) register(spec ConversationSpec, now time.Time, auto bool) (*conversation,
	error) {
	if spec.ID == "" {
		spec.ID = newID()
	}
	if _, ok := st.convs[spec.ID]; ok {
		return nil, fmt.Errorf("conversation %s: %w", spec.ID, ErrExists)
	}
	c := &conversation{
		id: spec.ID, start: now, readyAt: now.Add(max(spec.ReadinessDelay, 0)), auto: auto,
	}
	if spec.EndAfter > 0 {
		c.endAt = now.Add(spec.EndAfter)
	}
	for _, ps := range spec.Participants {
		if _, err := st.addParticipant(c, ps, now); err != nil {
			return nil, err
		}
	}
	st.convs[c.id] = c
	return c, nil
}

func (st *state) addParticipant(c *conversation, spec ParticipantSpec, now time.Time,
) (*participant, error) {
	if spec.ID == "" {
		spec.ID = newID()
	}
	if c.participant(spec.ID) != nil {
		return nil, fmt.Errorf("participant %s: %w", spec.ID, ErrExists)
	}
	if spec.Purpose == "" {
		spec.Purpose = "customer"
	}
	attrs := maps.Clone(spec.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	p := &participant{
		id: spec.ID, purpose: spec.Purpose, start: now, attrs: attrs,
		readyAt: now.Add(max(spec.ReadinessDelay, 0)),
	}
	if p.readyAt.Before(c.readyAt) {
		p.readyAt = c.readyAt
	}
	c.participants = append(c.participants, p)
	return p, nil
}

// recordRead remembers that token saw p at its current version.
func (st *state) recordRead(token string, c *conversation, p *participant) {
	key := readKey{token, c.id, p.id}
	reads := append(st.reads[key], p.version)
	if len(reads) > maxReadsPerKey {
		reads = slices.Delete(reads, 0, len(reads)-maxReadsPerKey)
	}
	st.reads[key] = reads
}

// popRead consumes token's most recent unconsumed read of p.
func (st *state) popRead(token string, c *conversation, p *participant) (uint64, bool) {
	key := readKey{token, c.id, p.id}
	reads := st.reads[key]
	if len(reads) == 0 {
		return 0, false
	}
	v := reads[len(reads)-1]
	if len(reads) == 1 {
		delete(st.reads, key)
	} else {
		st.reads[key] = reads[:len(reads)-1]
	}
	return v, true
}

// applyWrite stores attrs on p and classes the write for the lost-update counts.
func (st *state) applyWrite(token string, c *conversation, p *participant,
	attrs map[string]string, mode WriteMode, path string, overlapping bool, now time.Time,
) Write {
	w := Write{
		Time: now, ConversationID: c.id, ParticipantID: p.id, Path: path,
		Attributes: attrs, Overlapping: overlapping, AfterEnd: p.ended(c, now),
	}
	if v, ok := st.popRead(token, c, p); ok {
		w.ReadVersion, w.Stale = v, v < p.version
	} else {
		w.Blind = true
	}
	if mode == WriteReplace {
		p.attrs = maps.Clone(attrs)
	} else {
		maps.Copy(p.attrs, attrs)
	}
	p.version++
	w.Version = p.version
	st.count(w)
	if len(st.writes) < maxWriteLog {
		st.writes = append(st.writes, w)
	} else {
		st.counts.WriteLogDropped++
	}
	return w
}

func (st *state) count(w Write) {
	st.counts.Writes++
	if w.Blind {
		st.counts.BlindWrites++
	}
	if w.Stale {
		st.counts.StaleWrites++
	}
	if w.Overlapping {
		st.counts.OverlappingWrites++
	}
	if w.Stale || w.Overlapping {
		st.counts.LostUpdates++
	}
	if w.AfterEnd {
		st.counts.WritesAfterEnd++
	}
}

func (c *conversation) snapshot(now time.Time) ConversationState {
	cs := ConversationState{
		ID: c.id, StartTime: c.start, ReadyAt: c.readyAt, EndTime: c.endAt, AutoCreated: c.auto,
		Participants: make([]ParticipantState, 0, len(c.participants)),
	}
	for _, p := range c.participants {
		cs.Participants = append(cs.Participants, p.snapshot(c, now))
	}
	return cs
}

func (p *participant) snapshot(c *conversation, now time.Time) ParticipantState {
	return ParticipantState{
		ID: p.id, Purpose: p.purpose, State: p.stateName(c, now), StartTime: p.start,
		ReadyAt: p.readyAt, EndTime: p.endTime(c), Attributes: maps.Clone(p.attrs),
		Version: p.version, InFlight: p.inFlight,
	}
}

func (p *participant) stateName(c *conversation, now time.Time) string {
	if p.ended(c, now) {
		return "disconnected"
	}
	return "connected"
}

// newID returns a random version 4 UUID, the shape of Genesys ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newToken returns an opaque random bearer token.
func newToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
