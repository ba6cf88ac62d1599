package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// apiErrorBody is the Genesys Cloud API's error shape.
type apiErrorBody struct {
	Message   string      `json:"message"`
	Code      string      `json:"code"`
	Status    int         `json:"status"`
	ContextID string      `json:"contextId"`
	Details   []any       `json:"details"`
	Errors    []any       `json:"errors"`
	Limit     *limitField `json:"limit,omitempty"`
}

// limitField names the limit a 429 is about.
type limitField struct {
	Key       string `json:"key"`
	Namespace string `json:"namespace"`
	Value     int    `json:"value"`
}

// bareErrorsBody is the shape of some 400 answers: only errors[], no status or contextId.
type bareErrorsBody struct {
	Errors []bareError `json:"errors"`
}

type bareError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// oauthErrorBody is the login service's error shape.
type oauthErrorBody struct {
	Error            string `json:"error"`
	Description      string `json:"description"`
	ErrorDescription string `json:"error_description"`
}

// answer is an API answer decided under the lock and written after it is released.
type answer struct {
	status     int
	body       any
	retryAfter int // seconds; 0 sends no Retry-After header
}

func apiError(status int, code, message string) *answer {
	return &answer{status: status, body: &apiErrorBody{
		Message: message, Code: code, Status: status, ContextID: newID(),
		Details: []any{}, Errors: []any{},
	}}
}

func rateLimited(retryAfter, limit int) *answer {
	a := apiError(http.StatusTooManyRequests, "too.many.requests.retry.after",
		"Rate limit exceeded the maximum. Retry the request in ["+strconv.Itoa(retryAfter)+
			"] seconds")
	a.body.(*apiErrorBody).Limit = &limitField{
		Key: "client.credentials.token.rate.per.minute", Namespace: "platform.api", Value: limit,
	}
	a.retryAfter = retryAfter
	return a
}

func bareNotFound(message string) *answer {
	return &answer{status: http.StatusBadRequest, body: &bareErrorsBody{
		Errors: []bareError{{Code: "invalid_argument", Message: message}},
	}}
}

func oauthError(status int, code, description string) *answer {
	return &answer{status: status, body: &oauthErrorBody{
		Error: code, Description: description, ErrorDescription: description,
	}}
}

// write sends the answer, with the correlation id header Genesys sets on every answer.
func (a *answer) write(w http.ResponseWriter) {
	h := w.Header()
	if b, ok := a.body.(*apiErrorBody); ok {
		h.Set("Inin-Correlation-Id", b.ContextID)
	} else {
		h.Set("Inin-Correlation-Id", newID())
	}
	if a.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	writeJSON(w, a.status, a.body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
