package sfauth

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an answer of the token endpoint that is not a token. When
// Salesforce sent an OAuth error body, Code and Description carry its error
// and error_description; otherwise Code is empty and Description is a short,
// sanitised excerpt of what came back (an HTML error page, a proxy message).
type Error struct {
	StatusCode  int    // HTTP status of the answer
	Code        string // OAuth error code, e.g. "invalid_grant"
	Description string // error_description, or an excerpt of a non-OAuth body
}

// Error reads as Salesforce's own words, e.g.
// "invalid_grant: authentication failure", which a Salesforce admin can look
// up; a non-OAuth answer names the HTTP status instead.
func (e *Error) Error() string {
	switch {
	case e.Code != "" && e.Description != "":
		return e.Code + ": " + e.Description
	case e.Code != "":
		return e.Code
	case e.Description != "":
		return fmt.Sprintf("token endpoint answered HTTP %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Description)
	default:
		return fmt.Sprintf("token endpoint answered HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
}

// ErrSignatureMismatch is returned (wrapped) when the signature of a token
// response does not match id+issued_at under the configured client secret:
// the secret is wrong or the answer did not come from Salesforce.
var ErrSignatureMismatch = errors.New("token response signature does not match")

// ErrInvalidResponse is returned (wrapped) for a 2xx answer that is not a
// usable token response. Retrying may help: such answers come from proxies
// and outages rather than from configuration.
var ErrInvalidResponse = errors.New("invalid token response")

// permanentCodes are OAuth errors that retrying cannot fix: the credentials,
// the connected app or the user must change first.
var permanentCodes = map[string]bool{
	"invalid_grant":          true,
	"invalid_client":         true,
	"invalid_client_id":      true,
	"unsupported_grant_type": true,
	"inactive_user":          true,
	"inactive_org":           true,
	"invalid_app_access":     true,
	"invalid_request":        true,
	"invalid_scope":          true,
	"unauthorized_client":    true,
	"access_denied":          true,
}

// transientCodes are OAuth errors that go away by themselves.
var transientCodes = map[string]bool{
	"rate_limit_exceeded":     true,
	"server_error":            true,
	"temporarily_unavailable": true,
}

// IsPermanent reports whether err is a failure that retrying with the same
// configuration cannot fix, so a caller should back off long (and say so)
// instead of retrying soon: a rejected grant or client (invalid_grant,
// invalid_client, invalid_client_id, unsupported_grant_type, inactive_user,
// inactive_org, and other 4xx OAuth codes), a non-OAuth 3xx/4xx answer (a wrong
// org_url) other than 408 and 429, or a signature mismatch (wrong client
// secret), or an https org_url answered with an http instance_url
// (ErrDowngrade). Network errors, timeouts, 5xx answers, rate_limit_exceeded and
// malformed answers are transient: IsPermanent returns false for them, and for
// nil.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrSignatureMismatch) || errors.Is(err, ErrDowngrade) {
		return true
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case permanentCodes[e.Code]:
		return true
	case transientCodes[e.Code]:
		return false
	case e.StatusCode >= 500, e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusTooManyRequests:
		return false
	default:
		// Any other OAuth code, or a 3xx/4xx without one: the request or the
		// URL is wrong, and will stay wrong.
		return e.StatusCode >= 300
	}
}
