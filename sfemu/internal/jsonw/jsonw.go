// Package jsonw appends JSON with the key order under the caller's control: Salesforce's answers have a fixed key
// order that tests compare byte for byte, which map- or struct-based encoding would not keep.
package jsonw

import (
	"strconv"
	"unicode/utf8"
)

// Obj appends one JSON object with keys in the order they are added.
type Obj struct {
	b []byte
	n int
}

// Make starts an object at the end of b.
func Make(b []byte) Obj { return Obj{b: append(b, '{')} }

func (o *Obj) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = AppendString(o.b, k)
	o.b = append(o.b, ':')
}

// Str adds a string value.
func (o *Obj) Str(k, v string) { o.key(k); o.b = AppendString(o.b, v) }

// Raw adds v as it is; it must be valid JSON. An empty v adds nothing (an absent Bayeux id).
func (o *Obj) Raw(k string, v []byte) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, v...)
}

// Bool adds a boolean.
func (o *Obj) Bool(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }

// Int adds an integer.
func (o *Obj) Int(k string, v int64) { o.key(k); o.b = strconv.AppendInt(o.b, v, 10) }

// Open returns the object so far, without its closing brace.
func (o *Obj) Open() []byte { return o.b }

// Done closes the object and returns the bytes.
func (o *Obj) Done() []byte { return append(o.b, '}') }

// AppendString appends s as a JSON string without HTML escaping (channel filters contain '&'), replacing
// invalid UTF-8 with U+FFFD.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
