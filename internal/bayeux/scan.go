package bayeux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The splitter below walks a server answer once, finding each message's top-level `channel` and `data` values
// without decoding them, and checking the answer's grammar on the way (so a malformed answer is refused before
// anything of it is handed on). It exists because the product hands on `data` byte for byte, which a parser
// that builds values does not give. Strings are jumped eight bytes at a time; brackets are matched with a bit
// stack. Meta messages are then parsed with fastjson; each `data` object is walked on the way for its replay id
// and metadata (extract.go).

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

// skipString returns the index after the closing quote of a string whose opening quote is at b[i-1], and whether
// it contains an escape.
func skipString(b []byte, i int) (int, bool, error) {
	escaped := false
	for {
		i = nextQuoteOrBackslash(b, i)
		if i >= len(b) {
			return 0, false, errUnexpectedEnd
		}
		if b[i] == '"' {
			return i + 1, escaped, nil
		}
		escaped = true
		i += 2 // the backslash and the byte it escapes
	}
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

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
	swarQuote = swarOnes * '"'
	swarBack  = swarOnes * '\\'
)

// nextQuoteOrBackslash returns the index of the first '"' or '\\' at or after i, or len(b). It tests eight bytes
// per step (SWAR), which is what makes the splitter cheap on the long strings of event payloads.
func nextQuoteOrBackslash(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ swarQuote
		s := x ^ swarBack
		if ((q-swarOnes)&^q|(s-swarOnes)&^s)&swarHighs != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

// skipValue returns the index after the JSON value starting at b[i] (no leading whitespace), checking its
// grammar: brackets match, members are "name": value pairs, commas separate, literals are spelled out. Strings are
// only delimited (escapes are not decoded) and numbers are runs of number bytes, as fastjson reads them. An answer
// the splitter accepts is therefore well-formed, and the extraction pass over `data` (extract.go) can trust it.
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

// rawMemberName reads `"name" :` at b[i] and returns the name as written (escapes not decoded), whether it has
// escapes, and the index of the value after it.
func rawMemberName(b []byte, i int) (name []byte, escaped bool, value int, err error) {
	if i >= len(b) {
		return nil, false, 0, errUnexpectedEnd
	}
	if b[i] != '"' {
		return nil, false, 0, fmt.Errorf("expected a member name at offset %d", i)
	}
	end, escaped, err := skipString(b, i+1)
	if err != nil {
		return nil, false, 0, err
	}
	name = b[i+1 : end-1]
	i = skipWS(b, end)
	if i >= len(b) {
		return nil, false, 0, errUnexpectedEnd
	}
	if b[i] != ':' {
		return nil, false, 0, fmt.Errorf("expected ':' at offset %d", i)
	}
	return name, escaped, skipWS(b, i+1), nil
}

// memberName is rawMemberName with the name unescaped, for the walks that match member names.
func memberName(b []byte, i int) ([]byte, int, error) {
	name, escaped, value, err := rawMemberName(b, i)
	if escaped {
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
				if _, _, i, err = rawMemberName(b, i); err != nil {
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
				if _, _, i, err = rawMemberName(b, i); err != nil {
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

// element is one message of an answer: its whole span and the spans of the top-level members we route on, and
// what the walk of its `data` object found (extract.go).
type element struct {
	all, channel, data span
	channelEscaped     bool
	fields             dataFields
}

// scanElement reads the object starting at b[i] == '{' and returns it with the index after it. A repeated member
// keeps its last value, as encoding/json does. A `data` object is read for its replay id and metadata on the way
// (one pass over the bytes of every event).
func scanElement(b []byte, i int) (element, int, error) {
	el := element{all: span{start: i}}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		el.all.end = i + 1
		return el, i + 1, nil
	}
	for {
		key, v, err := memberName(b, i)
		if err != nil {
			return el, 0, err
		}
		var valEnd int
		switch string(key) {
		case "channel":
			if valEnd, err = skipValue(b, v); err != nil {
				return el, 0, err
			}
			if b[v] != '"' {
				return el, 0, fmt.Errorf("channel is not a string at offset %d", v)
			}
			el.channel = span{v + 1, valEnd - 1}
			el.channelEscaped = bytes.IndexByte(b[v+1:valEnd-1], '\\') >= 0
		case "data":
			el.fields = dataFields{}
			if v < len(b) && b[v] == '{' {
				valEnd, err = el.fields.walk(b, v, inData)
			} else {
				valEnd, err = skipValue(b, v)
			}
			if err != nil {
				return el, 0, err
			}
			el.data = span{v, valEnd}
		default:
			if valEnd, err = skipValue(b, v); err != nil {
				return el, 0, err
			}
		}
		i = skipWS(b, valEnd)
		if i >= len(b) {
			return el, 0, errUnexpectedEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			el.all.end = i + 1
			return el, i + 1, nil
		default:
			return el, 0, fmt.Errorf("expected ',' or '}' at offset %d", i)
		}
	}
}
