// Package genesys is a small client for the two Genesys Cloud Platform API calls scriptsync
// makes: reading a conversation and writing a participant's attributes.
//
// Every failure comes back as an error that Classify sorts into a Class (not ready yet,
// rate-limited, transient, auth, permission, permanent), so the caller decides once what to
// do with it. The client retries exactly one thing on its own: a call answered 401 is sent
// again once with a freshly fetched token. Every other retry belongs to the caller, who
// knows how long the event may still wait.
//
// One Client is meant to be shared by every goroutine of a process: it holds the process's
// OAuth token and its rate limiter.
package genesys
