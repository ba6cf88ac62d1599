package genesys

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Token refresh timing. A token is replaced when a tenth of its lifetime is left (at most
// maxRefreshMargin before expiry), so calls never race its expiry. When a refresh fails
// while the old token is still valid, the old one is used and the refresh is tried again
// after failedRefreshBackoff, so a login outage does not turn into a call outage at once.
const (
	maxRefreshMargin     = 5 * time.Minute
	failedRefreshBackoff = 5 * time.Second
	// noExpiryRefresh is how long a token whose answer named no lifetime is kept.
	noExpiryRefresh = time.Hour
)

// tokenCache holds the process's one OAuth token. Every goroutine asks it for the token;
// when a new one is needed, the first asker fetches it and the others wait for that
// fetch, so a refresh under load is still a single request to the login service.
type tokenCache struct {
	conf    clientcredentials.Config
	hc      *http.Client
	timeout time.Duration
	m       *metrics
	log     *zap.Logger

	mu        sync.Mutex
	tok       *oauth2.Token
	refreshAt time.Time
	fetch     *tokenFetch // the fetch in progress, nil when none
}

// tokenFetch is one request to the login service; done closes when tok or err is set.
type tokenFetch struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

func newTokenCache(tokenURL string, cfg Config, hc *http.Client, m *metrics,
	log *zap.Logger) *tokenCache {
	return &tokenCache{
		conf: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     tokenURL,
			// Genesys takes the credentials as HTTP basic auth; saying so skips the
			// library's probing, which would send a second request on every failure.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		hc:      hc,
		timeout: cfg.Timeout,
		m:       m,
		log:     log,
	}
}

// token returns a token that is not about to expire, fetching one when needed.
func (c *tokenCache) token(ctx context.Context) (*oauth2.Token, error) {
	for {
		c.mu.Lock()
		if c.tok != nil && time.Now().Before(c.refreshAt) {
			tok := c.tok
			c.mu.Unlock()
			return tok, nil
		}
		f, leader := c.fetch, false
		if f == nil {
			f, leader = &tokenFetch{done: make(chan struct{})}, true
			c.fetch = f
		}
		c.mu.Unlock()

		if leader {
			c.run(ctx, f)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, &transportError{err: ctx.Err()}
		}
		// A fetch cut short by its leader's context says nothing about this caller's:
		// start over, and this caller may lead the next fetch.
		if f.err != nil && !leader && isContextErr(f.err) && ctx.Err() == nil {
			continue
		}
		return f.tok, f.err
	}
}

// run performs fetch f with the leader's context, bounded by the call timeout, and
// publishes the result to everyone waiting on f.
func (c *tokenCache) run(ctx context.Context, f *tokenFetch) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	c.m.tokenFetches.Inc()
	tok, err := c.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, c.hc))

	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	switch {
	case err == nil:
		c.tok, c.refreshAt = tok, refreshTime(tok, now)
	case c.tok != nil && (c.tok.Expiry.IsZero() || now.Before(c.tok.Expiry)):
		c.m.tokenFailures.Inc()
		c.log.Warn("genesys token refresh failed, keeping the current token",
			zap.Error(tokenError(err)), zap.Time("token_expiry", c.tok.Expiry))
		tok, err = c.tok, nil
		c.refreshAt = now.Add(failedRefreshBackoff)
	default:
		c.m.tokenFailures.Inc()
		err = tokenError(err)
		tok = nil
	}
	f.tok, f.err = tok, err
	c.fetch = nil
	close(f.done)
}

// invalidate drops tok after the API refused it. When tok is no longer the current token,
// another goroutine has already replaced it, and nothing is dropped: a burst of 401s for
// one expired token leads to one new token.
func (c *tokenCache) invalidate(tok *oauth2.Token) {
	c.mu.Lock()
	if c.tok == tok {
		c.tok = nil
	}
	c.mu.Unlock()
}

func refreshTime(tok *oauth2.Token, now time.Time) time.Time {
	if tok.Expiry.IsZero() {
		return now.Add(noExpiryRefresh)
	}
	lifetime := tok.Expiry.Sub(now)
	return tok.Expiry.Add(-min(lifetime/10, maxRefreshMargin))
}

// tokenError turns the login service's refusal into an APIError (the OAuth shape is read
// from the body the oauth2 package kept), and anything else into a transport error.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return parseError(re.Response.StatusCode, re.Response.Header, re.Body, true)
	}
	return &transportError{err: err}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
