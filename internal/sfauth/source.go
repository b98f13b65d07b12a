package sfauth

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
)

// requestTimeout bounds one token request, whoever waits for it.
const requestTimeout = 30 * time.Second

// Source hands out access tokens for one configuration. It holds at most one
// token; fetches are single-flight. Safe for concurrent use.
type Source struct {
	cfg      Config
	orgURL   string // normalised org_url: its scheme decides whether an http instance_url is acceptable
	tokenURL string
	red      *redact.Redactor // the config's secrets and every token issued
	audience string           // jwt_bearer aud
	key      *rsa.PrivateKey  // jwt_bearer signing key
	client   *http.Client
	now      func() time.Time

	mu       sync.Mutex
	tok      Token // valid when have is true
	have     bool
	inflight *call

	// joined, when set (tests), is called under mu each time a caller starts
	// waiting for a fetch.
	joined func()
}

// call is one token request shared by every caller that waits for it.
type call struct {
	done    chan struct{} // closed when tok and err are set
	tok     Token
	err     error
	waiters int                // callers still waiting; the request is cancelled when it drops to 0
	cancel  context.CancelFunc // cancels the request
}

// NewSource validates cfg (every field its grant needs, a parseable RSA key
// for jwt_bearer) and returns a Source. It makes no request: the first Token
// call fetches.
func NewSource(cfg Config) (*Source, error) {
	orgURL, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("validating Salesforce auth config: %w", err)
	}
	s := &Source{
		cfg:      cfg,
		orgURL:   orgURL,
		tokenURL: orgURL + "/services/oauth2/token",
		red:      redact.New(cfg.ClientSecret, cfg.Password, cfg.RefreshToken, string(cfg.PrivateKeyPEM)),
		now:      time.Now,
	}
	if cfg.GrantType == GrantJWTBearer {
		if s.key, err = parsePrivateKey(cfg.PrivateKeyPEM); err != nil {
			return nil, fmt.Errorf("reading auth.private_key: %w", err)
		}
		s.audience = cfg.Audience
		if s.audience == "" {
			s.audience = audienceFor(orgURL)
		}
	}
	// A shallow copy keeps the caller's transport (TLS, proxy) while the
	// redirect policy is ours: see errorFrom.
	client := http.Client{}
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	}
	client.CheckRedirect = noRedirect
	s.client = &client
	return s, nil
}

// Redactor removes this source's secrets and every access token it has
// issued (in every encoding) from server text; the Streaming API client
// quotes its server answers through it too.
func (s *Source) Redactor() *redact.Redactor { return s.red }

// Token returns the cached token, fetching one first if there is none (on the
// first call, or after Refresh discarded the cached one and failed to get a
// new one). Concurrent callers share one request.
func (s *Source) Token(ctx context.Context) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, fmt.Errorf("getting Salesforce token: %w", err)
	}
	s.mu.Lock()
	if s.have {
		tok := s.tok
		s.mu.Unlock()
		return tok, nil
	}
	c := s.joinLocked(ctx)
	s.mu.Unlock()
	return s.wait(ctx, c)
}

// Refresh replaces stale, a token the caller found rejected (for example a
// 401 from the Streaming API). If the cached token is no longer stale (another
// caller refreshed it already) it is returned without a request; otherwise the
// stale token is discarded and a new one fetched. Concurrent callers share one
// request. Tokens are compared by AccessToken only, so a caller that kept just
// the access token can pass Token{AccessToken: stale}. On error no token is
// cached, so the next Token call fetches again.
func (s *Source) Refresh(ctx context.Context, stale Token) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, fmt.Errorf("refreshing Salesforce token: %w", err)
	}
	s.mu.Lock()
	if s.have {
		if s.tok.AccessToken != stale.AccessToken {
			tok := s.tok
			s.mu.Unlock()
			return tok, nil
		}
		s.have, s.tok = false, Token{}
	}
	c := s.joinLocked(ctx)
	s.mu.Unlock()
	return s.wait(ctx, c)
}

// joinLocked returns the request in flight, starting one if there is none,
// and counts the caller as its waiter. s.mu must be held.
func (s *Source) joinLocked(ctx context.Context) *call {
	c := s.inflight
	if c == nil {
		// The request outlives the caller that started it as long as others
		// wait for it, so it gets its own cancellation (values such as trace
		// ids are kept) and a timeout of its own.
		reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		c = &call{done: make(chan struct{}), cancel: cancel}
		s.inflight = c
		go s.run(reqCtx, c)
	}
	c.waiters++
	if s.joined != nil {
		s.joined()
	}
	return c
}

// run performs the request of c and publishes its outcome.
func (s *Source) run(ctx context.Context, c *call) {
	tok, err := s.exchange(ctx)
	c.cancel()
	s.mu.Lock()
	// A call abandoned by all its waiters was detached (see wait); its late
	// result must not overwrite what a newer call fetched.
	if s.inflight == c {
		s.inflight = nil
		if err == nil {
			s.tok, s.have = tok, true
		}
	}
	if err == nil {
		s.red.AddToken(tok.AccessToken)
	}
	c.tok, c.err = tok, err
	s.mu.Unlock()
	close(c.done)
}

// wait blocks until c finishes or ctx ends. The last waiter to give up
// cancels the request and detaches it, so a later caller starts afresh
// instead of joining a request that is being cancelled.
func (s *Source) wait(ctx context.Context, c *call) (Token, error) {
	select {
	case <-c.done:
		if c.err != nil {
			return Token{}, fmt.Errorf("getting Salesforce token from %s: %w", s.tokenURL, c.err)
		}
		return c.tok, nil
	case <-ctx.Done():
		s.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
			if s.inflight == c {
				s.inflight = nil
			}
		}
		s.mu.Unlock()
		return Token{}, fmt.Errorf("waiting for Salesforce token: %w", ctx.Err())
	}
}

// String describes the source without its config's secrets, key or token.
func (s *Source) String() string {
	if s == nil {
		return "sfauth.Source(nil)"
	}
	return fmt.Sprintf("sfauth.Source{grant:%s token_url:%s}", s.cfg.GrantType, s.tokenURL)
}

// GoString is the %#v form; the same safe description.
func (s *Source) GoString() string { return s.String() }

// Format makes every fmt verb use String, so printing a Source (or a struct
// holding one) cannot dump the private key or the cached token.
func (s *Source) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String(), s.GoString()) }
