package genesys

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Class sorts a call's outcome by what the caller should do about it.
type Class int

// The classes, from "nothing went wrong" to "sending it again will never help".
const (
	// ClassNone is a nil error.
	ClassNone Class = iota
	// ClassNotReady is a 404 not.found, or a 400 whose message says something was not
	// found: right after an event the conversation or participant is often not visible
	// yet. The caller decides whether it is still inside the window where that is normal.
	ClassNotReady
	// ClassRateLimited is a 429, or a call the client's own limiter held back past the
	// caller's deadline. RetryAfter says how long a 429 asked to wait; the client has
	// already paused its limiter for that long.
	ClassRateLimited
	// ClassTransient is a 5xx other than 501, a 408, a timeout, or a connection error:
	// worth sending again after a backoff.
	ClassTransient
	// ClassAuth is a 401 that a fresh token did not cure, or the login service refusing
	// the client credentials: nothing will work until the credentials are fixed.
	ClassAuth
	// ClassPermission is a 403: the OAuth client's roles lack a permission.
	ClassPermission
	// ClassPermanent is any other 4xx, a 501, or a request refused before it was sent.
	ClassPermanent
)

var classNames = [...]string{
	ClassNone:        "none",
	ClassNotReady:    "not_ready",
	ClassRateLimited: "rate_limited",
	ClassTransient:   "transient",
	ClassAuth:        "auth",
	ClassPermission:  "permission",
	ClassPermanent:   "permanent",
}

// String returns the class's snake_case name, fit for a metric label or a log field.
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "unknown"
	}
	return classNames[c]
}

// Classify sorts err. Errors this package did not produce are classed transient when they
// are context, network or truncated-body errors, and permanent otherwise.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.class()
	}
	var invalid *InvalidError
	if errors.As(err, &invalid) {
		return ClassPermanent
	}
	var limited *LimitedError
	if errors.As(err, &limited) {
		return ClassRateLimited
	}
	var te *transportError
	var ne net.Error
	switch {
	case errors.As(err, &te), errors.As(err, &ne),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, io.ErrUnexpectedEOF):
		return ClassTransient
	}
	return ClassPermanent
}

func (e *APIError) class() Class {
	switch s := e.Status; {
	case s == http.StatusTooManyRequests:
		return ClassRateLimited
	case s == http.StatusNotImplemented:
		return ClassPermanent
	case s >= 500, s == http.StatusRequestTimeout:
		return ClassTransient
	case e.Login, s == http.StatusUnauthorized:
		return ClassAuth
	case s == http.StatusForbidden:
		return ClassPermission
	case s == http.StatusNotFound:
		return ClassNotReady
	case s == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "not found"):
		return ClassNotReady
	}
	return ClassPermanent
}

// RetryAfter returns the wait Genesys asked for, or 0 when err carries none.
func RetryAfter(err error) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.RetryAfter
	}
	return 0
}
