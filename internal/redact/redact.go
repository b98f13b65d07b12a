package redact

import (
	"html"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Mark replaces every secret removed from a text.
const Mark = "[redacted]"

// MaxQuote bounds, in characters, the part of a server's text Quote keeps.
const MaxQuote = 200

// ReadLimit is how much of a server's body a caller should read before
// quoting it: far more than Quote keeps, so that a secret straddling the end
// of what is read lies beyond what is shown and still gets matched whole
// before the cut.
const ReadLimit = 8 << 10

// maxTokens bounds the access tokens a Redactor remembers: the current one
// and the ones before it, which a server or proxy may still echo.
const maxTokens = 16

var (
	// A Salesforce session id (access token): the 15- or 18-character org id
	// (00D…), "!" (raw, URL- or JSON-escaped), then the opaque rest.
	sessionID = regexp.MustCompile(`00D[0-9A-Za-z]{12,15}(?:!|%21|\\u0021)[0-9A-Za-z._\-~+/=%]+`)
	// Credentials after an auth scheme, wherever they appear.
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic|oauth)(\s+|%20|\+)[A-Za-z0-9._~+/=!%\-]{8,}`)
	// Header values: "Authorization: x", "authorization=x", JSON "Authorization":["x"].
	header = regexp.MustCompile(`(?i)((?:proxy-)?authorization|(?:set-)?cookie|x-sfdc-session)("?\s*[:=]\s*\[?\s*)("(?:[^"\\]|\\.)*"|[^\r\n]*)`)
	// Values of form, query or JSON fields named like secrets.
	field = regexp.MustCompile(`(?i)("?\b(?:access_token|refresh_token|id_token|client_secret|password|passwd|assertion|session_?id|sid|private_key|secret|token)"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|[^&\s,}"<>;]*)`)

	scriptStyle = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)\s*>`)
	htmlTag     = regexp.MustCompile(`(?s)<[^>]*>`)
)

// Redactor removes known secrets and recognisable credentials from text. The
// zero value is not usable; New makes one. Safe for concurrent use; a nil
// *Redactor still removes what it can recognise.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // the configured secrets
	tokens  []string // access tokens, oldest first, at most maxTokens
	// all is secrets then tokens, made anew whenever either changes and never written after: Known runs on
	// every event id, and taking this slice costs it no allocation.
	all []string
}

// New returns a Redactor for the configured secrets; empty ones are ignored.
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
	r.all = r.secrets
	return r
}

// AddToken remembers an access token (the current one; the previous ones are
// kept too, up to a bound). Adding a token already known does nothing.
func (r *Redactor) AddToken(token string) {
	if r == nil || token == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tokens {
		if t == token {
			return
		}
	}
	r.tokens = append(r.tokens, token)
	if len(r.tokens) > maxTokens {
		r.tokens = r.tokens[len(r.tokens)-maxTokens:]
	}
	r.all = append(append(make([]string, 0, len(r.secrets)+len(r.tokens)), r.secrets...), r.tokens...)
}

// known is every secret and token to look for, with extra. The result may be shared: it is never written.
func (r *Redactor) known(extra []string) []string {
	if len(extra) == 0 && r != nil {
		r.mu.RLock()
		defer r.mu.RUnlock()
		return r.all
	}
	var all []string
	for _, e := range extra {
		if e != "" {
			all = append(all, e)
		}
	}
	if r != nil {
		r.mu.RLock()
		all = append(append(all, r.secrets...), r.tokens...)
		r.mu.RUnlock()
	}
	return all
}

// String returns s with every known secret and token (in any encoding, see
// decode.go) and every recognisable credential replaced by Mark. extra are
// one-off secrets, such as a signed assertion, removed the same way.
func (r *Redactor) String(s string, extra ...string) string {
	s = removeSpans(s, findSecrets(s, r.known(extra)))
	s = sessionID.ReplaceAllString(s, Mark)
	s = authScheme.ReplaceAllString(s, "${1} "+Mark)
	s = header.ReplaceAllString(s, "${1}${2}"+Mark)
	return field.ReplaceAllString(s, "${1}"+Mark)
}

// Known returns s with only the known secrets and tokens (in any encoding)
// replaced by Mark: no pattern is applied, so a JSON or YAML document keeps
// its structure (a secret's JSON form is replaced inside its string).
func (r *Redactor) Known(s string) string {
	if r == nil {
		return s
	}
	return removeSpans(s, findSecrets(s, r.known(nil)))
}

// Quote turns a server's text into one short line fit for an error or a log:
// redacted (see String), HTML markup dropped and entities decoded, control
// characters and runs of space collapsed, then cut to MaxQuote characters.
// Each step that could reassemble a secret is followed by another redaction,
// and the cut comes last, so no part of a secret survives it.
func (r *Redactor) Quote(b []byte, extra ...string) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	s = r.String(s, extra...)
	s = scriptStyle.ReplaceAllString(s, " ")
	s = htmlTag.ReplaceAllString(s, " ")
	s = r.String(html.UnescapeString(s), extra...)
	s = strings.Join(strings.FieldsFunc(s, func(c rune) bool {
		return unicode.IsSpace(c) || !unicode.IsPrint(c)
	}), " ")
	s = r.String(s, extra...)
	if utf8.RuneCountInString(s) > MaxQuote {
		s = string([]rune(s)[:MaxQuote]) + "…"
	}
	return s
}

// QuoteString is Quote for a string.
func (r *Redactor) QuoteString(s string, extra ...string) string { return r.Quote([]byte(s), extra...) }
