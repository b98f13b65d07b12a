package sfauth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
)

// maxBody bounds what is read of a token answer; real ones are under 2 KiB.
const maxBody = 1 << 20

// tokenResponse is Salesforce's success body. refresh_token is deliberately
// absent: none of the supported grants receives one.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	ID          string `json:"id"`
	TokenType   string `json:"token_type"`
	IssuedAt    string `json:"issued_at"`
	Scope       string `json:"scope"`
	Signature   string `json:"signature"`
}

// errorResponse is the RFC 6749 section 5.2 error body Salesforce sends.
type errorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// form builds the request parameters of the configured grant. assertion is
// the signed JWT for jwt_bearer and empty otherwise.
func (s *Source) form(assertion string) url.Values {
	c := s.cfg
	v := url.Values{"grant_type": {c.GrantType.wireValue()}}
	switch c.GrantType {
	case GrantClientCredentials:
		v.Set("client_id", c.ClientID)
		v.Set("client_secret", c.ClientSecret)
	case GrantJWTBearer:
		v.Set("assertion", assertion)
	case GrantRefreshToken:
		v.Set("client_id", c.ClientID)
		v.Set("refresh_token", c.RefreshToken)
		if c.ClientSecret != "" {
			v.Set("client_secret", c.ClientSecret)
		}
	case GrantPassword:
		v.Set("client_id", c.ClientID)
		v.Set("client_secret", c.ClientSecret)
		v.Set("username", c.Username)
		v.Set("password", c.Password)
	}
	return v
}

// exchange performs one token request.
func (s *Source) exchange(ctx context.Context) (Token, error) {
	var assertion string
	if s.cfg.GrantType == GrantJWTBearer {
		var err error
		if assertion, err = signAssertion(s.key, s.cfg.ClientID, s.cfg.Username, s.audience, s.now()); err != nil {
			return Token{}, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, strings.NewReader(s.form(assertion).Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("building token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := s.client.Do(req)
	if err != nil {
		// The caller's wrapping names the URL; the form (and every secret) is
		// in no error.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return Token{}, fmt.Errorf("sending token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Token{}, fmt.Errorf("reading token response (HTTP %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Token{}, errorFrom(resp, body, s.red, assertion)
	}
	return s.tokenFrom(resp, body, assertion)
}

// errorFrom turns a non-2xx answer into an *Error. Every text of the answer
// goes through red: a hostile or confused endpoint may echo the request body.
func errorFrom(resp *http.Response, body []byte, red *redact.Redactor, assertion string) error {
	e := &Error{StatusCode: resp.StatusCode}
	var oauth errorResponse
	if json.Unmarshal(body, &oauth) == nil && oauth.Error != "" {
		e.Code = red.QuoteString(oauth.Error, assertion)
		e.Description = red.QuoteString(oauth.ErrorDescription, assertion)
		return e
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// Redirects are not followed: Go would turn the POST into a GET and
		// lose the form, and the fix is a different org_url anyway.
		e.Description = "redirected to " + red.QuoteString(locationWithoutQuery(resp), assertion) + "; set org_url to that host"
		return e
	}
	e.Description = red.Quote(body, assertion)
	return e
}

func locationWithoutQuery(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return "an unknown location"
	}
	loc.RawQuery, loc.Fragment, loc.User = "", "", nil
	return loc.String()
}

// tokenFrom parses and checks a 2xx answer.
func (s *Source) tokenFrom(resp *http.Response, body []byte, assertion string) (Token, error) {
	var tr tokenResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&tr); err != nil {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		// err may quote a byte or two of the body, never more; the excerpt is sanitised.
		return Token{}, fmt.Errorf("%w: HTTP %d answer (%s) is not JSON: %q", ErrInvalidResponse, resp.StatusCode, ct, s.red.Quote(body, assertion))
	}
	var missing []string
	if tr.AccessToken == "" {
		missing = append(missing, "access_token")
	}
	if tr.InstanceURL == "" {
		missing = append(missing, "instance_url")
	}
	if len(missing) > 0 {
		return Token{}, fmt.Errorf("%w: HTTP %d answer has no %s", ErrInvalidResponse, resp.StatusCode, strings.Join(missing, " and no "))
	}
	instance, err := url.Parse(tr.InstanceURL)
	if err != nil || (instance.Scheme != "https" && instance.Scheme != "http") || instance.Host == "" {
		return Token{}, fmt.Errorf("%w: instance_url %q is not an absolute http(s) URL", ErrInvalidResponse, s.red.QuoteString(tr.InstanceURL, tr.AccessToken, assertion))
	}
	if err := checkNoDowngrade(s.orgURL, instance); err != nil {
		return Token{}, err
	}
	if instance.User != nil || instance.RawQuery != "" || instance.Fragment != "" {
		// Salesforce's instance_url is scheme://host; anything more would end up in logs and requests.
		shown := url.URL{Scheme: instance.Scheme, Host: instance.Host}
		return Token{}, fmt.Errorf("%w: instance_url of %s carries a user, query or fragment", ErrInvalidResponse, s.red.QuoteString(shown.String()))
	}
	if s.cfg.ClientSecret != "" && tr.Signature != "" && !validSignature(s.cfg.ClientSecret, tr.ID, tr.IssuedAt, tr.Signature) {
		return Token{}, fmt.Errorf("checking token response: %w (is auth.client_secret the consumer secret of this connected app?)", ErrSignatureMismatch)
	}
	return Token{
		AccessToken: tr.AccessToken,
		InstanceURL: strings.TrimRight(tr.InstanceURL, "/"),
		ID:          tr.ID,
		IssuedAt:    tr.IssuedAt,
		Scope:       tr.Scope,
	}, nil
}

// signatureMAC is Salesforce's token signature before base64:
// HMAC-SHA256(key = client secret, message = id + issued_at).
func signatureMAC(clientSecret, id, issuedAt string) []byte {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	mac.Write([]byte(id + issuedAt))
	return mac.Sum(nil)
}

// validSignature compares in constant time; a signature that is not valid
// base64 simply does not match.
func validSignature(clientSecret, id, issuedAt, signature string) bool {
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	return hmac.Equal(got, signatureMAC(clientSecret, id, issuedAt))
}

// noRedirect stops the client at the first redirect; errorFrom reports it.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
