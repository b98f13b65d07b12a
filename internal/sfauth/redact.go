package sfauth

import (
	"fmt"
	"io"
	"strconv"
)

// The printed forms of Config, Token and Source go through these helpers so
// that no fmt verb (%v, %+v, %#v, %s, %q, %x) can reach a secret field.

const redactedMark = "[redacted]"

// redacted shows whether a secret is set without showing it.
func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return redactedMark
}

// formatRedacted implements fmt.Formatter for a type whose String and
// GoString are already safe: every verb prints one of them.
func formatRedacted(f fmt.State, verb rune, str, goStr string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, goStr)
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(str))
	default:
		_, _ = io.WriteString(f, str)
	}
}

// String prints the config with secrets replaced by [redacted] (or "" when
// unset, which is what a user checking a config wants to see).
func (c Config) String() string {
	return fmt.Sprintf("{OrgURL:%s GrantType:%s ClientID:%s ClientSecret:%s Username:%s Password:%s RefreshToken:%s PrivateKeyPEM:%s Audience:%s HTTPClient:%t}",
		c.OrgURL, c.GrantType, c.ClientID, redacted(c.ClientSecret), c.Username, redacted(c.Password),
		redacted(c.RefreshToken), redacted(string(c.PrivateKeyPEM)), c.Audience, c.HTTPClient != nil)
}

// GoString is the %#v form: Go syntax, secrets redacted.
func (c Config) GoString() string {
	return fmt.Sprintf("sfauth.Config{OrgURL:%q, GrantType:%q, ClientID:%q, ClientSecret:%q, Username:%q, Password:%q, RefreshToken:%q, PrivateKeyPEM:%q, Audience:%q, HTTPClient:%s}",
		c.OrgURL, string(c.GrantType), c.ClientID, redacted(c.ClientSecret), c.Username, redacted(c.Password),
		redacted(c.RefreshToken), redacted(string(c.PrivateKeyPEM)), c.Audience, clientMark(c.HTTPClient != nil))
}

// Format makes every fmt verb use String or GoString.
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String(), c.GoString()) }

func clientMark(set bool) string {
	if set {
		return "&http.Client{...}"
	}
	return "nil"
}

// String prints the token without the access token.
func (t Token) String() string {
	return fmt.Sprintf("{AccessToken:%s InstanceURL:%s ID:%s IssuedAt:%s Scope:%s}",
		redacted(t.AccessToken), t.InstanceURL, t.ID, t.IssuedAt, t.Scope)
}

// GoString is the %#v form without the access token.
func (t Token) GoString() string {
	return fmt.Sprintf("sfauth.Token{AccessToken:%q, InstanceURL:%q, ID:%q, IssuedAt:%q, Scope:%q}",
		redacted(t.AccessToken), t.InstanceURL, t.ID, t.IssuedAt, t.Scope)
}

// Format makes every fmt verb use String or GoString.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String(), t.GoString()) }
