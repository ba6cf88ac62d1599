package genesys

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// APIError is a non-2xx answer from Genesys Cloud, from the API or from the login service.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the Genesys error code (not.found, bad.credentials, ...), the first nested
	// error's code when the body has only errors[], or the OAuth error (invalid_client)
	// when Login is set.
	Code string
	// Message is the human-readable reason. Nested errors[] messages are appended, because
	// some answers put the only useful text there.
	Message string
	// CorrelationID is the Inin-Correlation-Id header, or the body's contextId. Genesys
	// support asks for it.
	CorrelationID string
	// RetryAfter is how long Genesys asked to wait: the Retry-After header, or the seconds
	// named in the message when the header is missing. Zero when neither says.
	RetryAfter time.Duration
	// Login is set when the login service (the token endpoint) answered rather than the
	// API. Its 4xx answers mean the client credentials are wrong.
	Login bool
}

// Error renders status, code, message and correlation id, never the request's token.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("status ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation id " + e.CorrelationID + ")")
	}
	return b.String()
}

// InvalidError reports a request refused before it was sent: it would fail the same way on
// every attempt, so it is classed permanent.
type InvalidError struct {
	// Attribute names the offending attribute; empty when the problem is not one
	// attribute's (an empty conversation id, too many attributes).
	Attribute string
	// Reason says what is wrong.
	Reason string
}

// Error names the attribute when there is one.
func (e *InvalidError) Error() string {
	if e.Attribute != "" {
		return fmt.Sprintf("invalid attribute %q: %s", e.Attribute, e.Reason)
	}
	return "invalid request: " + e.Reason
}

// transportError marks a failure to get any answer: connection refused or reset, a
// timeout, a truncated body. Such a call may well succeed when sent again.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// LimitedError is a call that was never sent because the client's own limiter could not
// give it a slot before the caller's deadline: the process is over its token's budget.
// It is classed rate-limited, like a 429, so callers back off rather than count it as a
// failure of Genesys.
type LimitedError struct{ err error }

func (e *LimitedError) Error() string { return "wait for rate limiter: " + e.err.Error() }
func (e *LimitedError) Unwrap() error { return e.err }

// errorBody is the union of the error shapes Genesys answers with: the API's
// (message, code, status, contextId, errors[]), the bare errors[] seen on some 400s, and
// the login service's OAuth shape (error, description, error_description).
type errorBody struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	ContextID string `json:"contextId"`
	Errors    []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	OAuthError       string `json:"error"`
	Description      string `json:"description"`
	ErrorDescription string `json:"error_description"`
}

// maxErrorText bounds how much of a body that is not JSON goes into an error message.
const maxErrorText = 200

// parseError builds the APIError for a non-2xx answer whose body has been read.
func parseError(status int, header http.Header, body []byte, login bool) *APIError {
	e := &APIError{
		Status:        status,
		CorrelationID: header.Get("Inin-Correlation-Id"),
		Login:         login,
	}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		e.Message = plainText(body, status)
	} else {
		e.Code, e.Message = eb.codeAndMessage()
		if e.CorrelationID == "" {
			e.CorrelationID = eb.ContextID
		}
	}
	e.RetryAfter = retryAfterHeader(header.Get("Retry-After"))
	if e.RetryAfter == 0 {
		e.RetryAfter = retryAfterText(e.Message)
	}
	return e
}

func (eb *errorBody) codeAndMessage() (string, string) {
	code := firstNonEmpty(eb.Code, eb.OAuthError)
	msg := firstNonEmpty(eb.Message, eb.ErrorDescription, eb.Description)
	for _, nested := range eb.Errors {
		if code == "" {
			code = nested.Code
		}
		if nested.Message != "" && !strings.Contains(msg, nested.Message) {
			if msg != "" {
				msg += "; "
			}
			msg += nested.Message
		}
	}
	return code, msg
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// plainText keeps the start of a body that is not JSON (a proxy's HTML page, say), or the
// status text when the body is empty.
func plainText(body []byte, status int) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return http.StatusText(status)
	}
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return s
}

// retryAfterHeader reads Retry-After as seconds or as an HTTP date.
func retryAfterHeader(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return seconds(n)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}

// secondsInText finds the wait in a rate-limit message such as "Retry the request in [42]
// seconds".
var secondsInText = regexp.MustCompile(`(?i)\[?(\d+)\]?\s*seconds?\b`)

func retryAfterText(msg string) time.Duration {
	m := secondsInText.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0
	}
	return seconds(n)
}

// maxRetryAfter bounds a wait read from an answer: a number of seconds too large for a
// time.Duration would otherwise wrap around to a negative or arbitrary wait, and a date
// decades ahead would hold calls for decades.
const maxRetryAfter = 24 * time.Hour

// seconds turns a count of seconds from an answer into a wait between 0 and maxRetryAfter.
func seconds(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(min(n, int(maxRetryAfter/time.Second))) * time.Second
}
