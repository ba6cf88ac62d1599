package genesys

import (
	"strings"
	"time"
)

// Conversation is the part of a Genesys Cloud conversation scriptsync reads.
type Conversation struct {
	// ID is the conversation id.
	ID string `json:"id"`
	// StartTime is when the conversation started.
	StartTime time.Time `json:"startTime,omitzero"`
	// EndTime is when it ended; zero while it goes on.
	EndTime time.Time `json:"endTime,omitzero"`
	// Participants lists everyone in the conversation, in the order Genesys gives.
	Participants []Participant `json:"participants"`
}

// Participant finds a participant by id.
func (c *Conversation) Participant(id string) (*Participant, bool) {
	for i := range c.Participants {
		if c.Participants[i].ID == id {
			return &c.Participants[i], true
		}
	}
	return nil, false
}

// Participant is one party to a conversation and the attributes stored on it, which agent
// scripts read as their input variables.
type Participant struct {
	// ID is the participant id, the one the attributes write addresses.
	ID string `json:"id"`
	// Purpose is customer, agent, acd, ivr, external, ...
	Purpose string `json:"purpose"`
	// State is the participant's state (connected, disconnected, terminated, ...). When an
	// answer has no participant-level state, it is taken from the participant's media
	// sessions (calls, chats, ...).
	State string `json:"state"`
	// StartTime is when the participant joined.
	StartTime time.Time `json:"startTime,omitzero"`
	// EndTime is when the participant left; zero while it is still there.
	EndTime time.Time `json:"endTime,omitzero"`
	// Attributes are the participant data, names to string values. Never nil after a read.
	Attributes map[string]string `json:"attributes"`
}

type session struct {
	State string `json:"state"`
}

// Ended reports whether the participant has left: an end time is set, or its state is
// disconnected or terminated. Attributes written after that are not kept by analytics.
func (p *Participant) Ended() bool {
	return !p.EndTime.IsZero() || terminalState(p.State)
}

func terminalState(s string) bool {
	return strings.EqualFold(s, "disconnected") || strings.EqualFold(s, "terminated")
}

// wireConversation is a conversation as the API sends it, with the media sessions that
// only serve to derive a participant's state.
type wireConversation struct {
	ID           string            `json:"id"`
	StartTime    time.Time         `json:"startTime,omitzero"`
	EndTime      time.Time         `json:"endTime,omitzero"`
	Participants []wireParticipant `json:"participants"`
}

type wireParticipant struct {
	Participant
	Calls     []session `json:"calls"`
	Callbacks []session `json:"callbacks"`
	Chats     []session `json:"chats"`
	Emails    []session `json:"emails"`
	Messages  []session `json:"messages"`
}

// conversation converts to the exported shape and fills what callers may rely on:
// non-nil attribute maps, and a state for every participant whose sessions say one.
func (w *wireConversation) conversation() *Conversation {
	c := &Conversation{
		ID:           w.ID,
		StartTime:    w.StartTime,
		EndTime:      w.EndTime,
		Participants: make([]Participant, len(w.Participants)),
	}
	for i := range w.Participants {
		wp := &w.Participants[i]
		p := wp.Participant
		if p.Attributes == nil {
			p.Attributes = map[string]string{}
		}
		if p.State == "" {
			p.State = wp.sessionState()
		}
		c.Participants[i] = p
	}
	return c
}

// sessionState is the first live session's state, or the last session's state when all
// have ended.
func (wp *wireParticipant) sessionState() string {
	last := ""
	for _, list := range [][]session{wp.Calls, wp.Callbacks, wp.Chats, wp.Emails, wp.Messages} {
		for _, s := range list {
			if s.State == "" {
				continue
			}
			if !terminalState(s.State) {
				return s.State
			}
			last = s.State
		}
	}
	return last
}
