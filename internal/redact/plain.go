package redact

import (
	"encoding/base64"
	"strings"
)

// undecodable reports whether no decoder (decoders) changes s, so that s is
// its only layer and a secret can be in it only as written. That is the
// common case of the texts redacted on every event, ids made of letters,
// digits, '-', '_' and '.', and telling it costs a scan instead of building
// layers (which costs microseconds). Any other byte ('%', '+', '\', '&', '/',
// '=', ...) leaves s to the decoders, as does a run that base64Decoder would
// decode: eight or more base64 letters decoding to printable text.
func undecodable(s string) bool {
	run := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch c := s[i]; {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
				run++
				continue
			case c != '.':
				return false
			}
		}
		if run >= 8 && decodesPrintable(s[i-run:i]) {
			return false
		}
		run = 0
	}
	return true
}

// decodesPrintable reports whether base64Decoder would decode the run m (no
// padding, as it has only base64 letters).
func decodesPrintable(m string) bool {
	var buf [96]byte
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		dst := buf[:]
		if n := enc.DecodedLen(len(m)); n > len(buf) {
			dst = make([]byte, n)
		}
		if n, err := enc.Decode(dst, []byte(m)); err == nil && n > 0 && printable(dst[:n]) {
			return true
		}
	}
	return false
}

// literalSpans is findSecrets for an undecodable s: the secrets as written.
func literalSpans(s string, secrets []string) []span {
	var spans []span
	for _, secret := range secrets {
		for at := 0; ; {
			i := strings.Index(s[at:], secret)
			if i < 0 {
				break
			}
			i += at
			spans = append(spans, span{i, i + len(secret)})
			at = i + len(secret)
		}
	}
	return spans
}
