package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
)

// RegisterConversation adds a conversation. It is invisible to the API for
// spec.ReadinessDelay.
func (s *Server) RegisterConversation(spec ConversationSpec) (ConversationState, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.st.register(spec, now, false)
	if err != nil {
		return ConversationState{}, fmt.Errorf("register conversation: %w", err)
	}
	s.log.Debug("conversation registered", zap.String("conversation_id", c.id),
		zap.Int("participants", len(c.participants)))
	return c.snapshot(now), nil
}

// AddParticipant adds a participant to a registered conversation, as when an agent
// joins.
func (s *Server) AddParticipant(conversationID string, spec ParticipantSpec) (
	ParticipantState, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.convs[conversationID]
	if !ok {
		return ParticipantState{}, fmt.Errorf("add participant: conversation %s: %w",
			conversationID, ErrNotFound)
	}
	p, err := s.st.addParticipant(c, spec, now)
	if err != nil {
		return ParticipantState{}, fmt.Errorf("add participant: %w", err)
	}
	return p.snapshot(c, now), nil
}

// EndConversation ends a conversation now, unless it has already ended: every
// participant becomes disconnected.
func (s *Server) EndConversation(conversationID string) (ConversationState, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.convs[conversationID]
	if !ok {
		return ConversationState{}, fmt.Errorf("end conversation %s: %w", conversationID,
			ErrNotFound)
	}
	if !c.ended(now) {
		c.endAt = now
	}
	return c.snapshot(now), nil
}

// EndParticipant ends one participant now, as when an agent leaves.
func (s *Server) EndParticipant(conversationID, participantID string) (ParticipantState,
	error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.convs[conversationID]
	if !ok {
		return ParticipantState{}, fmt.Errorf("end participant: conversation %s: %w",
			conversationID, ErrNotFound)
	}
	p := c.participant(participantID)
	if p == nil {
		return ParticipantState{}, fmt.Errorf("end participant %s: %w", participantID,
			ErrNotFound)
	}
	if !p.ended(c, now) {
		p.endAt = now
	}
	return p.snapshot(c, now), nil
}

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.st.faults = f
	s.mu.Unlock()
	s.log.Info("faults set", zap.Duration("latency", f.Latency),
		zap.Duration("jitter", f.Jitter), zap.Float64("error_rate", f.ErrorRate),
		zap.Int("rate_limit_per_minute", f.RateLimitPerMinute),
		zap.Float64("hang_rate", f.HangRate), zap.Float64("token_error_rate", f.TokenErrorRate))
	return nil
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.faults
}

// RevokeTokens invalidates every issued token, as an administrator revoking a client's
// sessions would: the next call with any of them is answered 401. It returns how many
// were revoked.
func (s *Server) RevokeTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.st.tokens)
	clear(s.st.tokens)
	clear(s.st.windows)
	return n
}

// Reset forgets conversations, reads, writes, counts and rate-limit windows, and puts the
// start faults back. Issued tokens stay valid, so connected clients carry on.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	tokens := s.st.tokens
	s.st = newState(s.opts.Faults)
	s.st.tokens = tokens
	s.log.Info("simulator reset")
}

// State returns every conversation, the write log and the counts.
func (s *Server) State() State {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return State{
		Conversations: s.conversationsLocked(now),
		Writes:        slices.Clone(s.st.writes),
		Counts:        s.st.counts,
	}
}

// Counts returns the counts alone, cheaper than State when the write log is long.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.counts
}

// Writes returns the write log, oldest first.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st.writes)
}

// Conversation returns one conversation's state.
func (s *Server) Conversation(id string) (ConversationState, bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.convs[id]
	if !ok {
		return ConversationState{}, false
	}
	return c.snapshot(now), true
}

// conversationsLocked lists conversations oldest first, ids breaking ties.
func (s *Server) conversationsLocked(now time.Time) []ConversationState {
	out := make([]ConversationState, 0, len(s.st.convs))
	for _, c := range s.st.convs {
		out = append(out, c.snapshot(now))
	}
	slices.SortFunc(out, func(a, b ConversationState) int {
		return cmp.Or(a.StartTime.Compare(b.StartTime), cmp.Compare(a.ID, b.ID))
	})
	return out
}
