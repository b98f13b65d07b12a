package redact

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// pythonQuote is urllib.parse.quote(s) (safe='/'): every byte but letters,
// digits, _.-~ and / as %XX, a space as %20.
func pythonQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// phpURLEncode is PHP's urlencode: like a form body, but ~ is escaped too.
func phpURLEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "~", "%7E")
}

// unicodeEscapeAll writes every character as \uXXXX, punctuation included,
// as some JSON encoders do.
func unicodeEscapeAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0xffff {
			r1, r2 := utf16Pair(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// The encodings a server may echo a secret in, written here without the
// package's code: a new encoding is a new row, never new package code, as
// long as it is a stack of percent, backslash, entity and base64 encodings.
var decodedForms = []struct {
	name string
	enc  func(string) string
}{
	{"python quote", pythonQuote},
	{"python quote_plus", url.QueryEscape},
	{"php urlencode", phpURLEncode},
	{"double url-encoded", func(s string) string { return url.QueryEscape(url.QueryEscape(s)) }},
	{"triple path-encoded", func(s string) string { return url.PathEscape(url.PathEscape(url.PathEscape(s))) }},
	{"lower-case hex", func(s string) string {
		return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(pythonQuote(s), strings.ToLower)
	}},
	{"\\u escapes of everything", unicodeEscapeAll},
	{"\\u escapes, url-encoded", func(s string) string { return url.QueryEscape(unicodeEscapeAll(s)) }},
	{"base64", func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
	{"base64 url, unpadded", func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }},
	{"basic credentials", func(s string) string { return base64.StdEncoding.EncodeToString([]byte("user:" + s)) }},
	{"base64, url-encoded", func(s string) string { return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(s))) }},
	{"json inside a form value", func(s string) string { return url.QueryEscape(`{"v":"` + pythonJSON(s) + `"}`) }},
}

func TestStringFindsSecretsByDecoding(t *testing.T) {
	secrets := append([]string{"plainSecretValue1"}, hostileSecrets...)
	r := New(secrets...)
	for _, secret := range secrets {
		for _, form := range decodedForms {
			t.Run(form.name+"/"+secret, func(t *testing.T) {
				encoded := form.enc(secret)
				text := "error: client " + encoded + " rejected; retry"
				got := r.String(text)
				assert.NotContains(t, got, encoded, "the encoded secret is gone")
				assert.Contains(t, got, Mark)
				assert.True(t, strings.HasPrefix(got, "error: client "), "text before it stays: %q", got)
				assert.True(t, strings.HasSuffix(got, " rejected; retry"), "text after it stays: %q", got)
				for _, part := range strings.FieldsFunc(secret, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') }) {
					if len(part) >= 4 {
						assert.NotContains(t, got, part)
					}
				}
			})
		}
	}
}

// Only the bytes that encode the secret go: the escape sequences before and
// after it in the same string stay.
func TestDecodedMatchRemovesExactlyTheEncodedBytes(t *testing.T) {
	r := New("s3cret")
	tests := []struct{ in, want string }{
		{`a%20s%33cret%20b`, `a%20` + Mark + `%20b`},
		{`{"x":"\u0041s3cret\u0042"}`, `{"x":"\u0041` + Mark + `\u0042"}`},
		{`x=a%2520s3cret`, `x=a%2520` + Mark},
		{`&lt;s3cret&gt;`, `&lt;` + Mark + `&gt;`},
		{"nothing here", "nothing here"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, r.Known(tt.in), tt.in)
	}
}

func TestUnrelatedEncodedTextIsKept(t *testing.T) {
	r := New("hunter2hunter2")
	for _, text := range []string{
		"a%20b+c%zz", `bad \u12 escape \x`, "&notanentity; &amp;", "dGhpcyBpcyBmaW5l", "%", `\`, "",
	} {
		assert.Equal(t, text, r.Known(text))
	}
}

// BenchmarkQuoteServerPage: a server error page of ReadLimit bytes, words
// that base64-decode included, with two secrets and a token known.
func BenchmarkQuoteServerPage(b *testing.B) {
	r := New("client-secret-value", "password-value")
	r.AddToken("00D000000000001AAA!AQtokenvalue")
	page := []byte(strings.Repeat("<p>Service Unavailable%20maintenance \\u0041 &amp; dGhpcyBpcyBmaW5l</p>\n", ReadLimit/72))
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		_ = r.Quote(page)
	}
}

// BenchmarkQuoteErrorAnswer: a typical error answer, a few hundred bytes.
func BenchmarkQuoteErrorAnswer(b *testing.B) {
	r := New("client-secret-value", "password-value")
	r.AddToken("00D000000000001AAA!AQtokenvalue")
	body := []byte(`{"error":"invalid_grant","error_description":"authentication failure for user%40example.com \u0026 client 3MVG9xOCXq4ID1uH; see https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flow_errors.htm&type=5"}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = r.Quote(body)
	}
}

// A secret after multi-byte characters: every byte maps back, not every rune.
func TestMultiByteTextBeforeASecret(t *testing.T) {
	r := New(`tok"en`)
	assert.Equal(t, `éé 😀 `+Mark+` é`, r.Known(`éé 😀 tok\"en é`))
	assert.Equal(t, `é`+Mark+`é`, r.Known(`é`+url.QueryEscape(`tok"en`)+`é`))
}

// The cut to MaxQuote comes after redaction: a secret that straddles the
// cut is matched whole and removed, never shown in part.
func TestQuoteCutsAfterRedacting(t *testing.T) {
	r := New("hunter2hunter2")
	for _, at := range []int{MaxQuote - 10, MaxQuote - 5, MaxQuote - 1} {
		got := r.Quote([]byte(strings.Repeat("x", at) + "hunter2hunter2 tail"))
		assert.NotContains(t, got, "hunte", "no head of the secret before the cut (at %d)", at)
	}
}
