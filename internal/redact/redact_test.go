package redact

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets chosen so that every encoding changes them.
var hostileSecrets = []string{
	`s3cr"et&x y+z%41/é\n`,
	`pa ss<wörd>&=?#`,
	`tok'en\\back"slash😀`,
}

// encodings are written independently of forms.go, the way servers and
// proxies produce them.
var encodings = map[string]func(string) string{
	"raw":  func(s string) string { return s },
	"form": func(s string) string { return url.Values{"v": {s}}.Encode()[2:] },
	"query%20": func(s string) string {
		return (&url.URL{RawQuery: strings.ReplaceAll(url.QueryEscape(s), "+", "%20")}).RawQuery
	},
	"path":       func(s string) string { return (&url.URL{Path: "/" + s}).EscapedPath()[1:] },
	"lower-hex":  func(s string) string { return strings.ToLower(url.QueryEscape(s)) },
	"json":       func(s string) string { b, _ := json.Marshal(s); return string(b[1 : len(b)-1]) },
	"json-ascii": pythonJSON,
	"go-quote":   func(s string) string { return fmt.Sprintf("%q", s)[1 : len(fmt.Sprintf("%q", s))-1] },
	"go-ascii":   func(s string) string { q := strconv.QuoteToASCII(s); return q[1 : len(q)-1] },
	"backslash":  func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) },
	"html":       html.EscapeString,
}

// pythonJSON mimics json.dumps(s) with ensure_ascii=True: upper-case hex.
func pythonJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r >= 0x80:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestQuoteRemovesSecretsInEveryEncoding(t *testing.T) {
	r := New(hostileSecrets...)
	for _, secret := range hostileSecrets {
		for name, enc := range encodings {
			t.Run(name+"/"+secret, func(t *testing.T) {
				encoded := enc(secret)
				body := `{"error":"invalid_client","error_description":"client ` + encoded + ` rejected","echo":"grant_type=password&x=` + encoded + `"}`
				got := r.Quote([]byte(body))
				assertClean(t, got, secret)
				assert.Contains(t, got, "invalid_client", "the server's words stay readable")
			})
		}
	}
}

func TestStringRemovesTokensCurrentAndPast(t *testing.T) {
	r := New()
	r.AddToken("first-token-ABCDEFGH")
	r.AddToken("second-token-IJKLMNOP")
	got := r.String("old first-token-ABCDEFGH new second-token-IJKLMNOP")
	assert.NotContains(t, got, "first-token")
	assert.NotContains(t, got, "second-token")
	assert.Equal(t, "old "+Mark+" new "+Mark, got)
}

func TestAddTokenKeepsABoundedHistory(t *testing.T) {
	r := New()
	for i := range maxTokens + 1 {
		r.AddToken(fmt.Sprintf("token-number-%02d", i))
	}
	assert.Contains(t, r.String("token-number-00"), "token-number-00", "the oldest token was forgotten")
	assert.Equal(t, Mark, r.String(fmt.Sprintf("token-number-%02d", maxTokens)))
}

func TestRecognisedCredentials(t *testing.T) {
	const sid = "00D5e000000AbCd!AQ4AQFq8.Zx_yW3-vUtS2rQpOnMlKjIhGf"
	cases := map[string]struct {
		in, leak string
	}{
		"session id":          {"echo: " + sid + " end", "AQ4AQFq8"},
		"session id 18":       {"00D5e000000AbCdEAA!AQ4AQxyz12345", "AQ4AQxyz"},
		"session id url":      {"token=" + url.QueryEscape(sid), "AQ4AQFq8"},
		"bearer":              {"got Authorization: Bearer abcdefgh12345678 from you", "abcdefgh1234"},
		"bearer json":         {`{"headers":{"Authorization":["Bearer zyxwvuts98765432"]}}`, "zyxwvuts"},
		"cookie":              {"Cookie: sid=qwertyuiop; BAYEUX_BROWSER=abc", "qwertyuiop"},
		"set-cookie":          {"set-cookie=sfdc-stream=!lkjhgfdsa", "lkjhgfdsa"},
		"form field":          {"client_secret=hunter2hunter2&client_id=x", "hunter2"},
		"json field escaped":  {`{"password":"a\"b&c d tail"}`, "tail"},
		"refresh token field": {`refresh_token: 5Aep861.xyz`, "5Aep861"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := New().Quote([]byte(c.in))
			assert.NotContains(t, got, c.leak)
			assert.Contains(t, got, Mark)
		})
	}
}

func TestQuoteKeepsOrdinaryTextAndCuts(t *testing.T) {
	r := New("hunter2hunter2")
	assert.Equal(t, "403::Handshake denied", r.Quote([]byte("403::Handshake denied")))
	assert.Equal(t, "Service Unavailable try later", r.Quote([]byte("<html><body><h1>Service\nUnavailable</h1><script>x()</script> try  later</body></html>")))
	long := strings.Repeat("x", 1000) + "hunter2hunter2"
	got := r.Quote([]byte(long))
	assert.Equal(t, MaxQuote+1, len([]rune(got)), "cut to MaxQuote plus the ellipsis")
}

// A secret hidden by HTML markup or entities, or split by white space that
// Quote collapses, is still removed.
func TestQuoteRedactsAfterEachTransformation(t *testing.T) {
	r := New("se cret-value")
	for _, in := range []string{"se&#32;cret-value", "se<b></b> cret-value", "se \n\t cret-value"} {
		got := r.Quote([]byte(in))
		assert.NotContains(t, got, "cret-value", in)
	}
}

func TestNilRedactorStillRecognises(t *testing.T) {
	var r *Redactor
	r.AddToken("ignored")
	assert.Equal(t, "Authorization: "+Mark, r.String("Authorization: Bearer abcdefgh12345678"))
}

func assertClean(t *testing.T, got, secret string) {
	t.Helper()
	for name, enc := range encodings {
		assert.NotContains(t, got, enc(secret), "%s form leaked", name)
	}
	// No tail of the secret past a special character either.
	for _, part := range strings.FieldsFunc(secret, func(r rune) bool { return strings.ContainsRune(`"& +%/\<>=?#'`, r) }) {
		if len(part) >= 3 {
			require.NotContains(t, got, part, "a piece of the secret leaked")
		}
	}
}

// The shapes of body the token client used to quote.
func TestQuoteShapes(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"plain", "Service Unavailable", "Service Unavailable"},
		{"html", "<html><title>x</title><body><h1>Down</h1>\n<p>for &lt;maintenance&gt;</p></body></html>", "x Down for <maintenance>"},
		{"script dropped", "<script type=x>var secret = 1;</script>ok", "ok"},
		{"control characters", "a\x00b\x1bc\r\nd", "a b c d"},
		{"invalid utf8", "a\xffb", "a?b"},
		{"json secret field", `{"access_token":"abc","x":1}`, `{"access_token":[redacted],"x":1}`},
		{"form secret field", `password=hunter2&user=x`, `password=[redacted]&user=x`},
		{"token shape", "use 00D5g000004ABCD!AQ0AQ.abc_def-1 now", "use [redacted] now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, New().Quote([]byte(tt.body))) })
	}
	assert.Equal(t, "x [redacted] y", New("s3cr3t", "").Quote([]byte("x s3cr3t y")), "known secrets are replaced")
}

func TestKnownKeepsDocumentsWellFormed(t *testing.T) {
	r := New(`pa"ss&word`)
	doc := `{"password":"pa\"ss\u0026word","other":"password: x"}`
	got := r.Known(doc)
	assert.Equal(t, `{"password":"[redacted]","other":"password: x"}`, got, "only the known secret goes; patterns are not applied")
}
