package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The JSON grammar the decoder needs, without building values: it delimits and checks strings, numbers,
// literals, objects and arrays, so an answer Split accepts is well-formed, and it reads member names. Long
// strings (most of an event's payload) are skipped with bytes.IndexByte, which is vectorised; brackets are
// matched with a bit stack. This file is the leaf of the decoder: it calls nothing in the others.

// maxScanDepth bounds bracket nesting (fastjson's own limit is 300).
const maxScanDepth = 256

var errUnexpectedEnd = errors.New("unexpected end of JSON")

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index after the closing quote of the string whose body starts at b[i]. It finds quotes
// with bytes.IndexByte (vectorised: most of a payload is long string values) and tells an escaped quote by the
// run of backslashes before it.
func stringEnd(b []byte, i int) (int, error) {
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return 0, errUnexpectedEnd
		}
		q += i
		n := 0
		for j := q - 1; j >= i && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		i = q + 1
	}
}

// skipValue returns the index after the JSON value starting at b[i] (no leading whitespace), checking its
// grammar: brackets match, members are "name": value pairs, commas separate, literals are spelled out. Strings are
// only delimited (escapes are not decoded) and numbers are runs of number bytes, as fastjson reads them. An answer
// Split accepts is therefore well-formed, and Complete can trust the spans it noted.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errUnexpectedEnd
	}
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i+1)
	case c == '{' || c == '[':
		return skipContainer(b, i)
	default:
		return skipScalar(b, i)
	}
}

// skipScalar skips a literal or a number at b[i].
func skipScalar(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errUnexpectedEnd
	}
	switch c := b[i]; {
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && isNumberByte(b[j]) {
			j++
		}
		return j, nil
	default:
		return 0, fmt.Errorf("unexpected character %q at offset %d", c, i)
	}
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		if len(b)-i < len(lit) && string(b[i:]) == lit[:len(b)-i] {
			return 0, errUnexpectedEnd
		}
		return 0, fmt.Errorf("invalid literal at offset %d", i)
	}
	return i + len(lit), nil
}

// rawMemberName reads `"name" :` at b[i] and returns the name as written (escapes not decoded) and the index of
// the value after it.
func rawMemberName(b []byte, i int) (name []byte, value int, err error) {
	if i >= len(b) {
		return nil, 0, errUnexpectedEnd
	}
	if b[i] != '"' {
		return nil, 0, fmt.Errorf("expected a member name at offset %d", i)
	}
	end, err := stringEnd(b, i+1)
	if err != nil {
		return nil, 0, err
	}
	name = b[i+1 : end-1]
	i = skipWS(b, end)
	if i >= len(b) {
		return nil, 0, errUnexpectedEnd
	}
	if b[i] != ':' {
		return nil, 0, fmt.Errorf("expected ':' at offset %d", i)
	}
	return name, skipWS(b, i+1), nil
}

// memberName is rawMemberName with the name unescaped, for the walks that match member names.
func memberName(b []byte, i int) ([]byte, int, error) {
	name, value, err := rawMemberName(b, i)
	if err == nil && bytes.IndexByte(name, '\\') >= 0 {
		name = unescapeJSON(name)
	}
	return name, value, err
}

// skipContainer skips the object or array at b[i] without recursion: a bit per open bracket says whether it
// is an object (1) or an array (0), so the stack costs 32 bytes however deep the value may go.
func skipContainer(b []byte, i int) (int, error) {
	var objects [maxScanDepth / 64]uint64
	depth := 0
	for {
		// b[i] starts a value.
		if i >= len(b) {
			return 0, errUnexpectedEnd
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == maxScanDepth {
				return 0, fmt.Errorf("JSON nested deeper than %d", maxScanDepth)
			}
			w, bit := depth>>6, uint64(1)<<(depth&63)
			if c == '{' {
				objects[w] |= bit
			} else {
				objects[w] &^= bit
			}
			depth++
			i = skipWS(b, i+1)
			if i >= len(b) {
				return 0, errUnexpectedEnd
			}
			if b[i] == c+2 { // '{'+2 == '}', '['+2 == ']': empty
				depth--
				i++
				break
			}
			if c == '{' {
				var err error
				if _, i, err = rawMemberName(b, i); err != nil {
					return 0, err
				}
			}
			continue
		case '"':
			var err error
			if i, err = stringEnd(b, i+1); err != nil {
				return 0, err
			}
		default:
			var err error
			if i, err = skipScalar(b, i); err != nil {
				return 0, err
			}
		}
		// After a value: close containers, or find the comma before the next value.
		for {
			if depth == 0 {
				return i, nil
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, errUnexpectedEnd
			}
			c := b[i]
			obj := objects[(depth-1)>>6]&(1<<((depth-1)&63)) != 0
			if obj && c == '}' || !obj && c == ']' {
				depth--
				i++
				continue
			}
			if c != ',' {
				return 0, fmt.Errorf("expected ',' or a closing bracket at offset %d", i)
			}
			i = skipWS(b, i+1)
			if obj {
				var err error
				if _, i, err = rawMemberName(b, i); err != nil {
					return 0, err
				}
			}
			break
		}
	}
}

// span is a half-open byte range; end == 0 means absent.
type span struct{ start, end int }

func (s span) ok() bool { return s.end > s.start }

// fieldSpan is a span in 32 bits: an answer holds one dataFields per event until Complete reads them, so their
// size is most of the decoder's memory per event. Split refuses bodies of 4 GiB or more.
type fieldSpan struct{ start, end uint32 }

func (s fieldSpan) span() span { return span{int(s.start), int(s.end)} }

func isNumberStart(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

// stringAt returns the contents of the JSON string at b[s] (quotes included in s), unescaped; ok is false when
// s is absent or not a string.
func stringAt(b []byte, s span) ([]byte, bool) {
	if !s.ok() || b[s.start] != '"' || s.end-s.start < 2 {
		return nil, false
	}
	raw := b[s.start+1 : s.end-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		raw = unescapeJSON(raw)
	}
	return raw, true
}

// unescapeJSON decodes the body of a JSON string (without quotes); used only for the rare escaped key or channel.
func unescapeJSON(raw []byte) []byte {
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return raw
	}
	return []byte(s)
}

// parseInt64 parses a decimal integer with an optional sign without allocating; ok is false for anything else
// and on overflow.
func parseInt64(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
