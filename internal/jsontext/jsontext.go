// Package jsontext writes JSON text straight into byte slices, for the hot
// paths that build JSON without encoding/json's reflection and allocations
// (the Pub/Sub decoder, snapshot bodies). What it writes is what encoding/json
// writes, so a reader cannot tell them apart.
package jsontext

import "unicode/utf8"

// AppendString appends s to b as a JSON string, byte for byte as encoding/json
// writes it with HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028
// and U+2029 are escaped.
func AppendString(b []byte, s string) []byte { return appendText(b, s) }

// AppendBytes is AppendString for text held in a byte slice, without converting it to a string first (which
// allocates for a text above 32 bytes).
func AppendBytes(b []byte, s []byte) []byte { return appendText(b, s) }

func appendText[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))])) // at most 4 bytes: no allocation
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
