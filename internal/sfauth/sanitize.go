package sfauth

import (
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxExcerpt bounds the part of an unexpected answer body quoted in an error.
const maxExcerpt = 200

var (
	scriptStyle = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)\s*>`)
	htmlTag     = regexp.MustCompile(`(?s)<[^>]*>`)
	// Salesforce access tokens: 15- or 18-char org id starting 00D, "!", opaque rest.
	sfToken = regexp.MustCompile(`00D[0-9A-Za-z]{12,15}![0-9A-Za-z._\-]+`)
	// Any JSON or form value of a field named like a secret.
	secretField = regexp.MustCompile(`(?i)("?(?:access_token|refresh_token|client_secret|password|assertion)"?\s*[:=]\s*)("[^"]*"|[^&\s,}]*)`)
)

// excerpt turns an unexpected body into a short single line fit for an error
// message: known secrets and anything shaped like a token are replaced, HTML
// markup is dropped, control characters and runs of space are collapsed.
func excerpt(body []byte, secrets ...string) string {
	s := string(body)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	s = redactSecrets(s, secrets)
	s = scriptStyle.ReplaceAllString(s, " ")
	s = htmlTag.ReplaceAllString(s, " ")
	s = html.UnescapeString(s)
	// Unescaping may have revealed an entity-encoded secret.
	s = redactSecrets(s, secrets)
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}), " ")
	if utf8.RuneCountInString(s) > maxExcerpt {
		s = string([]rune(s)[:maxExcerpt]) + "…"
	}
	return s
}

func redactSecrets(s string, secrets []string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redactedMark)
		}
	}
	s = sfToken.ReplaceAllString(s, redactedMark)
	return secretField.ReplaceAllString(s, "${1}"+redactedMark)
}
