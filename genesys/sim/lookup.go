package sim

import (
	"maps"
	"net/http"
	"time"
)

// lookupLocked finds the conversation, and the participant when pid is set, as the API
// sees them: unknown ids are not found (or created, with AutoCreate), and ids not visible
// yet get the configured not-ready answer.
func (s *Server) lookupLocked(cid, pid string, now time.Time) (*conversation, *participant,
	*answer) {
	c := s.st.convs[cid]
	if c == nil {
		if !s.opts.AutoCreate {
			s.st.counts.NotFound++
			return nil, nil, apiError(http.StatusNotFound, "not.found",
				"The requested conversation was not found.")
		}
		c, _ = s.st.register(ConversationSpec{
			ID: cid, ReadinessDelay: s.opts.ReadinessDelay,
			Participants: []ParticipantSpec{{Purpose: "customer"}},
		}, now, true)
	}
	if now.Before(c.readyAt) {
		s.st.counts.NotReady++
		return nil, nil, s.notReady("conversation", cid)
	}
	if pid == "" {
		return c, nil, nil
	}
	p := c.participant(pid)
	if p == nil {
		if !c.auto {
			s.st.counts.NotFound++
			return nil, nil, apiError(http.StatusNotFound, "not.found",
				"The requested participant was not found.")
		}
		p, _ = s.st.addParticipant(c, ParticipantSpec{
			ID: pid, Purpose: "agent", ReadinessDelay: s.opts.ReadinessDelay,
		}, now)
	}
	if now.Before(p.readyAt) {
		s.st.counts.NotReady++
		return nil, nil, s.notReady("participant", pid)
	}
	return c, p, nil
}

func (s *Server) notReady(kind, id string) *answer {
	if s.opts.NotReadyStyle == NotReady400 {
		return bareNotFound(kind + " '" + id + "' not found")
	}
	return apiError(http.StatusNotFound, "not.found", "The requested "+kind+" was not found.")
}

// wireConversation is a conversation in the API's shape.
type wireConversation struct {
	ID           string            `json:"id"`
	StartTime    string            `json:"startTime"`
	EndTime      string            `json:"endTime,omitempty"`
	Participants []wireParticipant `json:"participants"`
}

type wireParticipant struct {
	ID         string            `json:"id"`
	StartTime  string            `json:"startTime"`
	EndTime    string            `json:"endTime,omitempty"`
	Purpose    string            `json:"purpose"`
	State      string            `json:"state"`
	Attributes map[string]string `json:"attributes"`
}

// readLocked renders c for token and records token's read of every participant shown.
// Participants not visible yet are left out, as the API leaves them out.
func (s *Server) readLocked(c *conversation, token string, now time.Time) *wireConversation {
	s.st.counts.Reads++
	wc := &wireConversation{
		ID:           c.id,
		StartTime:    apiTime(c.start),
		Participants: make([]wireParticipant, 0, len(c.participants)),
	}
	if c.ended(now) {
		wc.EndTime = apiTime(c.endAt)
	}
	for _, p := range c.participants {
		if now.Before(p.readyAt) {
			continue
		}
		wp := wireParticipant{
			ID: p.id, StartTime: apiTime(p.start), Purpose: p.purpose,
			State: p.stateName(c, now), Attributes: maps.Clone(p.attrs),
		}
		if p.ended(c, now) {
			wp.EndTime = apiTime(p.endTime(c))
		}
		wc.Participants = append(wc.Participants, wp)
		s.st.recordRead(token, c, p)
	}
	return wc
}

// apiTime formats like Genesys: UTC, milliseconds, Z.
func apiTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
