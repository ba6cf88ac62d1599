package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 1 << 20

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/conversations", s.adminRegister)
	mux.HandleFunc("GET /admin/conversations/{id}", s.adminConversation)
	mux.HandleFunc("POST /admin/conversations/{id}/participants", s.adminAddParticipant)
	mux.HandleFunc("POST /admin/conversations/{id}/end", s.adminEndConversation)
	mux.HandleFunc("POST /admin/conversations/{id}/participants/{pid}/end",
		s.adminEndParticipant)
	mux.HandleFunc("GET /admin/faults", s.adminGetFaults)
	mux.HandleFunc("PUT /admin/faults", s.adminSetFaults)
	mux.HandleFunc("PATCH /admin/faults", s.adminSetFaults)
	mux.HandleFunc("GET /admin/state", s.adminState)
	mux.HandleFunc("GET /admin/counts", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Counts())
	})
	mux.HandleFunc("GET /admin/writes", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Writes())
	})
	mux.HandleFunc("POST /admin/tokens/revoke", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, map[string]int{"revoked": s.RevokeTokens()})
	})
	mux.HandleFunc("POST /admin/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

// duration is a time.Duration written as a Go duration string ("250ms", "1m30s").
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`durations are strings such as "250ms" or "2s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// conversationJSON registers a conversation through the admin API. An omitted
// readiness_delay takes Options.ReadinessDelay.
type conversationJSON struct {
	ID             string            `json:"id"`
	Participants   []participantJSON `json:"participants"`
	ReadinessDelay *duration         `json:"readiness_delay"`
	EndAfter       duration          `json:"end_after"`
}

type participantJSON struct {
	ID             string            `json:"id"`
	Purpose        string            `json:"purpose"`
	Attributes     map[string]string `json:"attributes"`
	ReadinessDelay duration          `json:"readiness_delay"`
}

func (p participantJSON) spec() ParticipantSpec {
	return ParticipantSpec{
		ID: p.ID, Purpose: p.Purpose, Attributes: p.Attributes,
		ReadinessDelay: time.Duration(p.ReadinessDelay),
	}
}

// faultsJSON is Faults on the wire.
type faultsJSON struct {
	Latency            duration `json:"latency"`
	Jitter             duration `json:"jitter"`
	ErrorRate          float64  `json:"error_rate"`
	ErrorStatus        int      `json:"error_status"`
	RateLimitPerMinute int      `json:"rate_limit_per_minute"`
	HangRate           float64  `json:"hang_rate"`
	TokenErrorRate     float64  `json:"token_error_rate"`
}

func toFaultsJSON(f Faults) faultsJSON {
	return faultsJSON{
		Latency: duration(f.Latency), Jitter: duration(f.Jitter), ErrorRate: f.ErrorRate,
		ErrorStatus: f.ErrorStatus, RateLimitPerMinute: f.RateLimitPerMinute, HangRate: f.HangRate,
		TokenErrorRate: f.TokenErrorRate,
	}
}

func (f faultsJSON) faults() Faults {
	return Faults{
		Latency: time.Duration(f.Latency), Jitter: time.Duration(f.Jitter),
		ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus,
		RateLimitPerMinute: f.RateLimitPerMinute, HangRate: f.HangRate,
		TokenErrorRate: f.TokenErrorRate,
	}
}

func (s *Server) adminRegister(w http.ResponseWriter, r *http.Request) {
	var cj conversationJSON
	if !readAdmin(w, r, &cj) {
		return
	}
	spec := ConversationSpec{
		ID: cj.ID, ReadinessDelay: s.opts.ReadinessDelay, EndAfter: time.Duration(cj.EndAfter),
	}
	if cj.ReadinessDelay != nil {
		spec.ReadinessDelay = time.Duration(*cj.ReadinessDelay)
	}
	for _, pj := range cj.Participants {
		spec.Participants = append(spec.Participants, pj.spec())
	}
	cs, err := s.RegisterConversation(spec)
	if err != nil {
		adminError(w, err)
		return
	}
	writeAdmin(w, http.StatusCreated, cs)
}

func (s *Server) adminConversation(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.Conversation(r.PathValue("id"))
	if !ok {
		adminError(w, fmt.Errorf("conversation %s: %w", r.PathValue("id"), ErrNotFound))
		return
	}
	writeAdmin(w, http.StatusOK, cs)
}

func (s *Server) adminAddParticipant(w http.ResponseWriter, r *http.Request) {
	var pj participantJSON
	if !readAdmin(w, r, &pj) {
		return
	}
	ps, err := s.AddParticipant(r.PathValue("id"), pj.spec())
	if err != nil {
		adminError(w, err)
		return
	}
	writeAdmin(w, http.StatusCreated, ps)
}

func (s *Server) adminEndConversation(w http.ResponseWriter, r *http.Request) {
	cs, err := s.EndConversation(r.PathValue("id"))
	if err != nil {
		adminError(w, err)
		return
	}
	writeAdmin(w, http.StatusOK, cs)
}

func (s *Server) adminEndParticipant(w http.ResponseWriter, r *http.Request) {
	ps, err := s.EndParticipant(r.PathValue("id"), r.PathValue("pid"))
	if err != nil {
		adminError(w, err)
		return
	}
	writeAdmin(w, http.StatusOK, ps)
}

func (s *Server) adminGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeAdmin(w, http.StatusOK, toFaultsJSON(s.Faults()))
}

// adminSetFaults replaces the faults (PUT: absent fields are zero) or updates them (PATCH:
// absent fields keep their value).
func (s *Server) adminSetFaults(w http.ResponseWriter, r *http.Request) {
	var fj faultsJSON
	if r.Method == http.MethodPatch {
		fj = toFaultsJSON(s.Faults())
	}
	if !readAdmin(w, r, &fj) {
		return
	}
	if err := s.SetFaults(fj.faults()); err != nil {
		writeAdmin(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeAdmin(w, http.StatusOK, toFaultsJSON(s.Faults()))
}

// adminState answers the whole state; ?writes=false leaves the write log out.
func (s *Server) adminState(w http.ResponseWriter, r *http.Request) {
	st := s.State()
	if r.URL.Query().Get("writes") == "false" {
		st.Writes = nil
	}
	writeAdmin(w, http.StatusOK, st)
}

// readAdmin decodes a body strictly, so a misspelled field is an error rather than a
// silently ignored setting.
func readAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeAdmin(w, http.StatusBadRequest, map[string]string{"error": "decode body: " +
			err.Error()})
		return false
	}
	return true
}

func adminError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrExists):
		status = http.StatusConflict
	}
	writeAdmin(w, status, map[string]string{"error": err.Error()})
}

// writeAdmin indents: admin answers are read by people at a terminal.
func writeAdmin(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(body); err != nil {
		http.Error(w, "encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
