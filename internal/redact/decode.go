package redact

import (
	"encoding/base64"
	"html"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Detection by decoding. A server may echo a secret in any encoding, or in
// several stacked (a form body inside a JSON string, a value URL-encoded
// twice). Rather than listing every encoding of every secret, the text is
// decoded, layer by layer, and each secret is searched for in every layer.
// Each byte of a layer remembers which bytes of the original text it came
// from, so a match in a layer removes exactly the original bytes that
// encoded it: the escape sequences, not what surrounds them.

// maxDepth bounds the decodings stacked on one another: three covers a
// value URL-encoded twice inside a JSON string.
const maxDepth = 3

// layer is a decoding of the original text: for each byte of text, the
// original bytes [from, to) it was decoded from.
type layer struct {
	text     string
	from, to []int
}

func original(s string) layer {
	l := layer{text: s, from: make([]int, len(s)), to: make([]int, len(s))}
	for i := 0; i < len(s); i++ { // bytes, not runes
		l.from[i], l.to[i] = i, i+1
	}
	return l
}

// builder makes the next layer out of l.
type builder struct {
	l        layer
	text     []byte
	from, to []int
}

// emit appends out, decoded from l's bytes [a, b).
func (b *builder) emit(out []byte, a, c int) {
	for range out {
		b.from = append(b.from, b.l.from[a])
		b.to = append(b.to, b.l.to[c-1])
	}
	b.text = append(b.text, out...)
}

func newBuilder(l layer) *builder {
	n := len(l.text)
	return &builder{l: l, text: make([]byte, 0, n), from: make([]int, 0, n), to: make([]int, 0, n)}
}

func (b *builder) copyByte(i int) {
	b.text = append(b.text, b.l.text[i])
	b.from = append(b.from, b.l.from[i])
	b.to = append(b.to, b.l.to[i])
}

func (b *builder) done() layer { return layer{text: string(b.text), from: b.from, to: b.to} }

// decoder is one decoding step; ok is false when it changes nothing.
type decoder func(l layer) (next layer, ok bool)

var decoders = []decoder{
	percentDecoder(true),  // form bodies, PHP urlencode, Python quote_plus: + is a space
	percentDecoder(false), // paths, Python quote, encodeURIComponent
	backslashDecoder,      // JSON, Go, C and Python string literals
	entityDecoder,         // HTML
	base64Decoder,         // Basic credentials, opaque blobs
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func percentDecoder(plusIsSpace bool) decoder {
	return func(l layer) (layer, bool) {
		s := l.text
		if !strings.Contains(s, "%") && (!plusIsSpace || !strings.Contains(s, "+")) {
			return l, false
		}
		b := newBuilder(l)
		changed := false
		for i := 0; i < len(s); i++ {
			if s[i] == '%' && i+2 < len(s) {
				hi, ok1 := unhex(s[i+1])
				lo, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					b.emit([]byte{hi<<4 | lo}, i, i+3)
					i += 2
					changed = true
					continue
				}
			}
			if plusIsSpace && s[i] == '+' {
				b.emit([]byte{' '}, i, i+1)
				changed = true
				continue
			}
			b.copyByte(i)
		}
		return b.done(), changed
	}
}

// backslashDecoder undoes \uXXXX (surrogate pairs joined), \UXXXXXXXX,
// \xHH and single-character escapes.
func backslashDecoder(l layer) (layer, bool) {
	s := l.text
	if !strings.Contains(s, `\`) {
		return l, false
	}
	b := newBuilder(l)
	changed := false
	hexAt := func(i, n int) (rune, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v, err := strconv.ParseUint(s[i:i+n], 16, 32)
		return rune(v), err == nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.copyByte(i)
			continue
		}
		switch c := s[i+1]; c {
		case 'u':
			r, ok := hexAt(i+2, 4)
			if !ok {
				b.copyByte(i)
				continue
			}
			end := i + 6
			if utf16.IsSurrogate(r) && end+1 < len(s) && s[end] == '\\' && s[end+1] == 'u' {
				if r2, ok := hexAt(end+2, 4); ok {
					r = utf16.DecodeRune(r, r2)
					end += 6
				}
			}
			b.emit(utf8.AppendRune(nil, r), i, end)
			i = end - 1
		case 'U':
			r, ok := hexAt(i+2, 8)
			if !ok {
				b.copyByte(i)
				continue
			}
			b.emit(utf8.AppendRune(nil, r), i, i+10)
			i += 9
		case 'x':
			r, ok := hexAt(i+2, 2)
			if !ok {
				b.copyByte(i)
				continue
			}
			b.emit([]byte{byte(r)}, i, i+4)
			i += 3
		default:
			out, ok := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'b': '\b', 'f': '\f', '0': 0}[c]
			if !ok {
				out = c // \" \\ \/ \' and any other: the character itself
			}
			b.emit([]byte{out}, i, i+2)
			i++
		}
		changed = true
	}
	return b.done(), changed
}

var entity = regexp.MustCompile(`&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});`)

func entityDecoder(l layer) (layer, bool) {
	return replaceRuns(l, entity, func(m string) ([]byte, bool) {
		out := html.UnescapeString(m)
		return []byte(out), out != m
	})
}

// base64Run is a run that may be base64 (standard or URL alphabet, padded or
// not), long enough to hide a secret.
var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}={0,2}`)

func base64Decoder(l layer) (layer, bool) {
	return replaceRuns(l, base64Run, func(m string) ([]byte, bool) {
		trimmed := strings.TrimRight(m, "=")
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			// Only printable text can hold a secret: most words of eight
			// letters or more decode to binary, which is not followed.
			if out, err := enc.DecodeString(trimmed); err == nil && printable(out) {
				return out, true
			}
		}
		return nil, false
	})
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// replaceRuns decodes each match of re with decode; a match decode refuses
// is kept as is. Every byte of a decoded match comes from the whole match.
func replaceRuns(l layer, re *regexp.Regexp, decode func(string) ([]byte, bool)) (layer, bool) {
	matches := re.FindAllStringIndex(l.text, -1)
	if matches == nil {
		return l, false
	}
	b := newBuilder(l)
	changed, next := false, 0
	for _, m := range matches {
		out, ok := decode(l.text[m[0]:m[1]])
		if !ok || len(out) == 0 {
			continue
		}
		for i := next; i < m[0]; i++ {
			b.copyByte(i)
		}
		b.emit(out, m[0], m[1])
		next, changed = m[1], true
	}
	for i := next; i < len(l.text); i++ {
		b.copyByte(i)
	}
	return b.done(), changed
}

// span is a range [from, to) of the original text to remove.
type span struct{ from, to int }

// findSecrets returns the spans of s that encode one of secrets, in any
// stack of up to maxDepth decodings.
func findSecrets(s string, secrets []string) []span {
	if len(secrets) == 0 || s == "" {
		return nil
	}
	if undecodable(s) {
		return literalSpans(s, secrets)
	}
	return decodedSpans(s, secrets)
}

// decodedSpans is findSecrets through every stack of decodings.
func decodedSpans(s string, secrets []string) []span {
	var spans []span
	seen := map[string]bool{}
	var visit func(l layer, depth int)
	visit = func(l layer, depth int) {
		if seen[l.text] {
			return // another order of the same decodings reached it
		}
		seen[l.text] = true
		for _, secret := range secrets {
			for at := 0; ; {
				i := strings.Index(l.text[at:], secret)
				if i < 0 {
					break
				}
				i += at
				spans = append(spans, span{l.from[i], l.to[i+len(secret)-1]})
				at = i + len(secret)
			}
		}
		if depth == maxDepth {
			return
		}
		for _, d := range decoders {
			if next, ok := d(l); ok {
				visit(next, depth+1)
			}
		}
	}
	visit(original(s), 0)
	return spans
}

// removeSpans replaces each span of s (overlapping ones merged) by Mark.
func removeSpans(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var b strings.Builder
	last := 0
	for k := 0; k < len(spans); k++ {
		cur := spans[k]
		for k+1 < len(spans) && spans[k+1].from < cur.to {
			k++
			cur.to = max(cur.to, spans[k].to)
		}
		cur.from = max(cur.from, last) // spans are sorted and merged: never below last
		b.WriteString(s[last:cur.from])
		b.WriteString(Mark)
		last = cur.to
	}
	b.WriteString(s[last:])
	return b.String()
}
