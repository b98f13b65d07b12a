package orgapi

import (
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
)

// maxBody bounds an answer read into memory: the limits resource of a real
// org is about 10 kB.
const maxBody = 1 << 20

// requestTimeout bounds one request when the caller's context has no
// deadline: a hung REST call must not hold the poller forever.
const requestTimeout = 30 * time.Second

// TokenSource gives access tokens; *sfauth.Source satisfies it.
type TokenSource interface {
	Token(ctx context.Context) (sfauth.Token, error)
	Refresh(ctx context.Context, stale sfauth.Token) (sfauth.Token, error)
}

// Client reads REST resources of one org.
type Client struct {
	auth       TokenSource
	http       *http.Client
	apiVersion string
	red        *redact.Redactor
}

// New returns a Client. httpClient carries the TLS and proxy settings;
// apiVersion is written like "64.0"; red quotes server text (nil quotes with
// an empty redactor, which still removes anything shaped like a credential).
func New(auth TokenSource, httpClient *http.Client, apiVersion string, red *redact.Redactor) *Client {
	if red == nil {
		red = redact.New()
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{auth: auth, http: httpClient, apiVersion: apiVersion, red: red}
}

// Limit is one entry of the limits resource.
type Limit struct {
	Max       int64 `json:"Max"`
	Remaining int64 `json:"Remaining"`
}

// Limits reads /services/data/vXX.X/limits: every top-level entry with a Max
// and a Remaining, by name. Entries of another shape are skipped.
func (c *Client) Limits(ctx context.Context) (map[string]Limit, error) {
	body, err := c.get(ctx, "/services/data/v"+c.apiVersion+"/limits")
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

// get answers the body of a 200 to GET path on the token's instance, getting
// a new token once when the first is refused.
func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	tok, err := c.auth.Token(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		status, body, err := c.do(ctx, tok, path)
		if err != nil {
			return nil, err
		}
		switch {
		case status == http.StatusOK:
			return body, nil
		case status == http.StatusUnauthorized && attempt == 0:
			if tok, err = c.auth.Refresh(ctx, tok); err != nil {
				return nil, err
			}
			continue
		}
		return nil, &StatusError{Status: status, Body: c.red.Quote(body, tok.AccessToken)}
	}
}

func (c *Client) do(ctx context.Context, tok sfauth.Token, path string) (int, []byte, error) {
	base := strings.TrimRight(tok.InstanceURL, "/")
	if base == "" {
		return 0, nil, errors.New("the token carries no instance URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error holds the URL only: no header, so no token.
		return 0, nil, fmt.Errorf("GET %s: %s", path, c.red.String(err.Error(), tok.AccessToken))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: reading the answer: %s", path, c.red.String(err.Error(), tok.AccessToken))
	}
	if len(body) > maxBody {
		return 0, nil, fmt.Errorf("GET %s: the answer is larger than %d bytes", path, maxBody)
	}
	return resp.StatusCode, body, nil
}

// StatusError is an answer other than 200. Body is the server's text,
// redacted and shortened.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("Salesforce answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}
