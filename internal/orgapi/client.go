package orgapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// maxBody bounds an answer read into memory whole (limits, a job's state, an
// error body): the limits resource of a real org is about 10 kB. Query pages,
// collections and Bulk results are streamed and never read whole.
const maxBody = 1 << 20

// requestTimeout bounds one request when the caller's context has no
// deadline: a hung REST call must not hold the poller forever. streamTimeout
// bounds a request whose answer is streamed (a query page of 2,000 records, a
// Bulk results page of up to maxRecords rows), read while its records are
// handed on.
const (
	requestTimeout = 30 * time.Second
	streamTimeout  = 10 * time.Minute
)

// TokenSource gives access tokens; *sfauth.Source satisfies it.
type TokenSource interface {
	Token(ctx context.Context) (sfauth.Token, error)
	Refresh(ctx context.Context, stale sfauth.Token) (sfauth.Token, error)
}

// Call kinds, the label of the api_calls metric: one per request sent,
// retries included, since each one counts against DailyApiRequests.
const (
	KindLimits      = "limits"
	KindQuery       = "query"
	KindQueryMore   = "query_more"
	KindDescribe    = "describe"
	KindRetrieve    = "retrieve"
	KindBulkCreate  = "bulk_create"
	KindBulkPoll    = "bulk_poll"
	KindBulkResults = "bulk_results"
	KindBulkDelete  = "bulk_delete"
)

// Hooks observe the client. Both are optional and must not block.
type Hooks struct {
	// Call is told of every request sent, by kind.
	Call func(kind string)
	// Retry is told before a wait: the refused request's kind, the wait and
	// the refusal (redacted).
	Retry func(kind string, wait time.Duration, err error)
}

// Client reads REST resources of one org.
type Client struct {
	auth       TokenSource
	http       *http.Client
	apiVersion string
	red        *redact.Redactor
	backoff    stream.BackoffConfig
	hooks      Hooks
}

// Option adjusts a Client.
type Option func(*Client)

// WithBackoff sets the waits before a retry (zero fields: the streaming
// clients' defaults).
func WithBackoff(b stream.BackoffConfig) Option {
	return func(c *Client) { c.backoff = b.WithDefaults() }
}

// WithHooks sets the observers.
func WithHooks(h Hooks) Option { return func(c *Client) { c.hooks = h } }

// New returns a Client. httpClient carries the TLS and proxy settings;
// apiVersion is written like "64.0"; red quotes server text (nil quotes with
// an empty redactor, which still removes anything shaped like a credential).
func New(auth TokenSource, httpClient *http.Client, apiVersion string, red *redact.Redactor, opts ...Option) *Client {
	if red == nil {
		red = redact.New()
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	c := &Client{auth: auth, http: httpClient, apiVersion: apiVersion, red: red, backoff: stream.BackoffConfig{}.WithDefaults()}
	for _, o := range opts {
		o(c)
	}
	return c
}

// dataPath is path under the versioned data API root.
func (c *Client) dataPath(path string) string { return "/services/data/v" + c.apiVersion + path }

// Limit is one entry of the limits resource.
type Limit struct {
	Max       int64 `json:"Max"`
	Remaining int64 `json:"Remaining"`
}

// Limits reads /services/data/vXX.X/limits: every top-level entry with a Max
// and a Remaining, by name. Entries of another shape are skipped. It is not
// retried: its caller polls.
func (c *Client) Limits(ctx context.Context) (map[string]Limit, error) {
	body, err := c.readAll(ctx, request{kind: KindLimits, method: http.MethodGet, path: c.dataPath("/limits")})
	if err != nil {
		return nil, fmt.Errorf("reading the org limits: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("reading the org limits: the answer is not a JSON object: %s", c.red.Quote(body))
	}
	out := make(map[string]Limit, len(raw))
	for name, v := range raw {
		var entry struct {
			Max       *int64 `json:"Max"`
			Remaining *int64 `json:"Remaining"`
		}
		if json.Unmarshal(v, &entry) != nil || entry.Max == nil || entry.Remaining == nil {
			continue
		}
		out[name] = Limit{Max: *entry.Max, Remaining: *entry.Remaining}
	}
	return out, nil
}

// request is one call: what is sent and how it is retried.
type request struct {
	kind   string
	method string
	path   string // from the instance root, e.g. /services/data/v64.0/query?q=...
	body   []byte // JSON, or nil
	accept string // default application/json
	// retry waits out a busy server (503), a limit (REQUEST_LIMIT_EXCEEDED)
	// and a failed connection by the backoff policy until ctx ends.
	retry  bool
	stream bool // the answer is streamed: streamTimeout instead of requestTimeout
}

// readAll sends rq and answers the whole body of its 2xx answer, at most maxBody bytes.
func (c *Client) readAll(ctx context.Context, rq request) ([]byte, error) {
	resp, err := c.send(ctx, rq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %s", rq.method, pathOnly(rq.path), c.red.String(err.Error()))
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("%s %s: the answer is larger than %d bytes", rq.method, pathOnly(rq.path), maxBody)
	}
	return body, nil
}

// send is the one way a request leaves: the token's instance and bearer, one
// new token when the first is refused, the backoff policy for a retryable
// refusal. It answers a 2xx response whose body the caller closes (closing
// also ends the request's timeout); anything else is an error whose server
// text is redacted.
func (c *Client) send(ctx context.Context, rq request) (*http.Response, error) {
	tok, err := c.auth.Token(ctx)
	if err != nil {
		return nil, err
	}
	refreshed := false
	// refused is the server's last refusal: a caller that gives up while a
	// retry is in flight learns why it was retrying, not only its deadline.
	var refused error
	for streak := 1; ; {
		resp, err := c.attempt(ctx, tok, rq)
		if err == nil && resp.StatusCode/100 == 2 {
			return resp, nil
		}
		var wait time.Duration
		switch {
		case err != nil:
			if !rq.retry || ctx.Err() != nil {
				if refused != nil {
					return nil, fmt.Errorf("%w (stopped while retrying: %w)", refused, err)
				}
				return nil, err
			}
			wait = c.backoff.Delay(streak)
		case resp.StatusCode == http.StatusUnauthorized && !refreshed:
			drain(resp)
			refreshed = true
			if tok, err = c.auth.Refresh(ctx, tok); err != nil {
				return nil, err
			}
			continue
		default:
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			drain(resp)
			se := &StatusError{Status: resp.StatusCode, Code: errorCode(body), Body: c.red.Quote(body, tok.AccessToken)}
			err, refused = se, se
			switch {
			case !rq.retry:
				return nil, err
			case se.Code == "REQUEST_LIMIT_EXCEEDED":
				wait = c.backoff.LongDelay()
			case se.Status == http.StatusServiceUnavailable:
				wait = c.backoff.Delay(streak)
			default:
				return nil, err
			}
		}
		if c.hooks.Retry != nil {
			c.hooks.Retry(rq.kind, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (stopped while waiting to retry: %w)", err, ctx.Err())
		case <-t.C:
		}
		streak++
	}
}

// attempt sends rq once with tok.
func (c *Client) attempt(ctx context.Context, tok sfauth.Token, rq request) (*http.Response, error) {
	base := strings.TrimRight(tok.InstanceURL, "/")
	if base == "" {
		return nil, errors.New("the token carries no instance URL")
	}
	timeout := requestTimeout
	if rq.stream {
		timeout = streamTimeout
	}
	var cancel context.CancelFunc = func() {}
	if _, ok := ctx.Deadline(); !ok || rq.stream {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, base+rq.path, body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	accept := rq.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.hooks.Call != nil {
		c.hooks.Call(rq.kind)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		// url.Error holds the URL only: no header, so no token. The query
		// string may hold SOQL, which is the user's own text.
		return nil, fmt.Errorf("%s %s: %s", rq.method, pathOnly(rq.path), c.red.String(err.Error(), tok.AccessToken))
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends a request's timeout when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// drain reads a little of an unwanted body so that the connection can be reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// pathOnly is path without its query string, for errors.
func pathOnly(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p
}

// errorCode is the first errorCode of Salesforce's error array (or of a Bulk
// error object), "" when the body has none.
func errorCode(body []byte) string {
	var list []struct {
		ErrorCode string `json:"errorCode"`
	}
	if json.Unmarshal(body, &list) == nil && len(list) > 0 {
		return list[0].ErrorCode
	}
	var one struct {
		ErrorCode string `json:"errorCode"`
	}
	if json.Unmarshal(body, &one) == nil {
		return one.ErrorCode
	}
	return ""
}

// StatusError is an answer other than 2xx. Code is Salesforce's errorCode
// (e.g. REQUEST_LIMIT_EXCEEDED, INVALID_FIELD), Body the server's text,
// redacted and shortened.
type StatusError struct {
	Status int
	Code   string
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("Salesforce answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}
