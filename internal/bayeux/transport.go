package bayeux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
)

// DefaultMaxAnswerBytes is the default of Config.MaxAnswerBytes: 64 MiB. Salesforce's largest connect answers
// (thousands of CDC events of up to 1 MB each are possible in principle, a few MB in practice) stay below it.
const DefaultMaxAnswerBytes = 64 << 20

// ErrAnswerTooLarge is matched (errors.Is) by the error of an answer above Config.MaxAnswerBytes. The answer is
// not read further; the session reconnects as after a dropped connection.
var ErrAnswerTooLarge = errors.New("answer too large")

// transport POSTs one Bayeux message array at a time. It owns the session's single cookie jar: Salesforce
// sets BAYEUX_BROWSER on the handshake and may rotate its load-balancer cookie (sfdc-stream) on any answer,
// including a 403::Unknown client, and rejects requests that do not send them back.
type transport struct {
	hc       *http.Client
	maxBytes int64            // bound of one answer body
	red      *redact.Redactor // quotes error bodies
}

func newTransport(base *http.Client, maxBytes int64, red *redact.Redactor) (*transport, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("creating the cookie jar: %w", err)
	}
	hc := &http.Client{}
	if base != nil {
		*hc = *base // keep the caller's transport (TLS, proxy)
	}
	// Salesforce never redirects the CometD endpoint; following a redirect could carry the bearer token to
	// another host or over http. post reports the redirect instead.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc.Jar = jar
	hc.Timeout = 0 // per request, from the context: long polls need advice.timeout + margin
	return &transport{hc: hc, maxBytes: maxBytes, red: red}, nil
}

// post sends body to endpoint and returns the answer's bytes, freshly allocated (decoded events keep
// sub-slices of them). timeout bounds the whole exchange; ctx cancels it (Close uses this to abort a long poll).
func (t *transport) post(ctx context.Context, endpoint, token string, body []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("posting to %s: %w", endpoint, scrubURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, redact.ReadLimit))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
		if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			return nil, &HTTPError{Status: resp.StatusCode, Body: "redirect to " + t.redirectTarget(resp) +
				" not followed: Salesforce does not redirect the CometD endpoint"}
		}
		return nil, &HTTPError{Status: resp.StatusCode, Body: t.red.Quote(snippet, token)}
	}
	out, err := readBody(resp, t.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the answer from %s: %w", endpoint, err)
	}
	return out, nil
}

// readBody reads the whole answer into one fresh slice: exactly Content-Length bytes when the server sent it
// (the common case, and the one that allocates once), else growing up to maxBytes.
func readBody(resp *http.Response, maxBytes int64) ([]byte, error) {
	if n := resp.ContentLength; n > 0 {
		if n > maxBytes {
			return nil, fmt.Errorf("%w: Content-Length %d exceeds the limit of %d bytes", ErrAnswerTooLarge, n, maxBytes)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > maxBytes {
		return nil, fmt.Errorf("%w: more than the limit of %d bytes", ErrAnswerTooLarge, maxBytes)
	}
	return buf, nil
}

// scrubURLError keeps the cause of a *url.Error; the URL is added by the caller (it never holds secrets, but
// a proxy URL in the chain might).
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// redirectTarget shows where a redirect pointed: scheme and host only, redacted (it is the server's text).
func (t *transport) redirectTarget(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return "an unreadable location"
	}
	return t.red.QuoteString((&url.URL{Scheme: loc.Scheme, Host: loc.Host}).String())
}
