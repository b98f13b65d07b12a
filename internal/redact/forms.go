package redact

import (
	"bytes"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// forms returns s as a server may echo it back: the raw text and each
// encoding a form body, a URL, a JSON document, a Go or C string literal or an
// HTML page gives it. Duplicates are removed by the caller.
func forms(s string) []string {
	out := []string{s}
	add := func(f string) { out = append(out, f, lowerHex(f)) }
	add(url.QueryEscape(s))                                  // form bodies and query strings: space as +
	add(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"))  // query strings written by other encoders
	add(url.PathEscape(s))                                   // path segments
	add((&url.URL{Path: "/" + s}).EscapedPath()[1:])         // whole paths: / kept
	add(uriComponent(s))                                     // JavaScript's encodeURIComponent
	add(strings.ReplaceAll(url.PathEscape(s), "+", "%2B"))   // strict encoders escape + too
	out = append(out, jsonForm(s, true), jsonForm(s, false)) // Go's encoder, with and without HTML escapes
	out = append(out, jsonASCII(s), upperHex(jsonASCII(s)))  // ensure_ascii encoders (Python, Java)
	out = append(out, unquote(strconv.Quote(s)), unquote(strconv.QuoteToASCII(s)))
	out = append(out, strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)) // minimal backslash escaping
	out = append(out, strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s))
	out = append(out, html.EscapeString(s))
	return out
}

func unquote(q string) string { return q[1 : len(q)-1] }

// jsonForm is the body of s as a JSON string, without its quotes.
func jsonForm(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	return unquote(strings.TrimSuffix(b.String(), "\n"))
}

// jsonASCII is the body of s as a JSON string with every non-ASCII character
// escaped as \uXXXX (UTF-16 surrogate pairs above the BMP).
func jsonASCII(s string) string {
	var b strings.Builder
	for _, r := range jsonForm(s, false) {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			b.WriteString(`\u`)
			h := strconv.FormatUint(uint64(u), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)) + h)
		}
	}
	return b.String()
}

var (
	pctHex = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
	uniHex = regexp.MustCompile(`\\u[0-9A-Fa-f]{4}`)
)

func lowerHex(s string) string { return pctHex.ReplaceAllStringFunc(s, strings.ToLower) }

func upperHex(s string) string {
	return uniHex.ReplaceAllStringFunc(s, func(m string) string { return `\u` + strings.ToUpper(m[2:]) })
}

// uriComponent escapes s like JavaScript's encodeURIComponent: every byte but
// A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func uriComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
	}
	return b.String()
}
