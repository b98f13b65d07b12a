package sfemu

import (
	"strconv"
	"unicode/utf8"
)

// obj appends one JSON object with keys in the order they are added. Salesforce's replies have a fixed key order
// that tests compare byte for byte, which map- or struct-based encoding would not keep under control.
type obj struct {
	b []byte
	n int
}

func newObj(b []byte) *obj { return &obj{b: append(b, '{')} }

func (o *obj) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *obj) str(k, v string) *obj { o.key(k); o.b = appendJSONString(o.b, v); return o }

// strIf adds the key only when v is not empty.
func (o *obj) strIf(k, v string) *obj {
	if v != "" {
		o.str(k, v)
	}
	return o
}

// raw adds v as it is; it must be valid JSON. An empty v adds nothing (an absent Bayeux id).
func (o *obj) raw(k string, v []byte) *obj {
	if len(v) == 0 {
		return o
	}
	o.key(k)
	o.b = append(o.b, v...)
	return o
}

func (o *obj) bool(k string, v bool) *obj { o.key(k); o.b = strconv.AppendBool(o.b, v); return o }
func (o *obj) int(k string, v int64) *obj { o.key(k); o.b = strconv.AppendInt(o.b, v, 10); return o }

func (o *obj) done() []byte { return append(o.b, '}') }

// appendJSONString appends s as a JSON string without HTML escaping (channel filters contain '&'), replacing
// invalid UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
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
