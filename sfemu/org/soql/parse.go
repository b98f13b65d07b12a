package soql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a query error at a position of the statement, rendered the way Salesforce renders them.
type Error struct {
	Code  string // MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE
	Query string
	Pos   int // byte offset in Query
	Text  string
}

// Error renders Salesforce's layout: a newline, the line of the statement, a caret under the column, then
// "ERROR at Row:r:Column:c" and the text (rows and columns count from 1).
func (e *Error) Error() string {
	row, start := 1, 0
	for i := 0; i < len(e.Query) && i < e.Pos; i++ {
		if e.Query[i] == '\n' {
			row++
			start = i + 1
		}
	}
	line := e.Query[start:]
	if end := strings.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	col := utf8.RuneCountInString(e.Query[start:min(e.Pos, len(e.Query))]) + 1
	return fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s", line, strings.Repeat(" ", col-1), row, col, e.Text)
}

// MaxLength is the longest statement accepted: Salesforce's 100,000 characters.
const MaxLength = 100_000

type tokenKind int

const (
	tEOF tokenKind = iota
	tIdent
	tNumber
	tString
	tDate
	tDateTime
	tOp    // = != <> < <= > >=
	tPunct // ( ) , :
)

type token struct {
	kind tokenKind
	text string // as written (strings: unescaped value)
	pos  int
}

type parser struct {
	q    string
	toks []token
	i    int
}

// Parse parses one statement.
func Parse(q string) (*Query, error) {
	if len(q) > MaxLength {
		return nil, &Error{Code: "MALFORMED_QUERY", Query: q[:80], Pos: 0, Text: fmt.Sprintf("Query is too long: more than %d characters", MaxLength)}
	}
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{q: q, toks: toks}
	return p.query()
}

func lex(q string) ([]token, error) {
	var out []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			start := i
			var sb strings.Builder
			i++
			closed := false
			for i < len(q) {
				if q[i] == '\\' && i+1 < len(q) {
					switch e := q[i+1]; e {
					case 'n':
						sb.WriteByte('\n')
					case 't':
						sb.WriteByte('\t')
					case 'r':
						sb.WriteByte('\r')
					default:
						sb.WriteByte(e) // \' \" \\ \_ \% keep the character
					}
					i += 2
					continue
				}
				if q[i] == '\'' {
					closed = true
					i++
					break
				}
				sb.WriteByte(q[i])
				i++
			}
			if !closed {
				return nil, &Error{Code: "MALFORMED_QUERY", Query: q, Pos: start, Text: "unterminated string literal"}
			}
			out = append(out, token{kind: tString, text: sb.String(), pos: start})
		case c >= '0' && c <= '9' || (c == '-' || c == '+') && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			start := i
			i++
			i = skip(q, i, "0123456789.")
			kind := tNumber
			if i-start == 4 && i < len(q) && q[i] == '-' { // a year: a date, maybe a datetime
				kind = tDate
				i = skip(q, i, "0123456789-")
				if i < len(q) && q[i] == 'T' {
					kind = tDateTime
					i = skip(q, i, "0123456789-+:.TZ")
				}
			}
			out = append(out, token{kind: kind, text: q[start:i], pos: start})
		case isIdentStart(c):
			start := i
			for i < len(q) && isIdentPart(q[i]) {
				i++
			}
			out = append(out, token{kind: tIdent, text: q[start:i], pos: start})
		case c == '!' || c == '<' || c == '>' || c == '=':
			start := i
			i++
			if i < len(q) && (q[i] == '=' || c == '<' && q[i] == '>') {
				i++
			}
			op := q[start:i]
			if op == "!" {
				return nil, &Error{Code: "MALFORMED_QUERY", Query: q, Pos: start, Text: "unexpected token: '!'"}
			}
			out = append(out, token{kind: tOp, text: op, pos: start})
		case c == '(' || c == ')' || c == ',' || c == ':':
			out = append(out, token{kind: tPunct, text: string(c), pos: i})
			i++
		default:
			r, _ := utf8.DecodeRuneInString(q[i:])
			return nil, &Error{Code: "MALFORMED_QUERY", Query: q, Pos: i, Text: fmt.Sprintf("unexpected token: '%c'", r)}
		}
	}
	return append(out, token{kind: tEOF, text: "<EOF>", pos: len(q)}), nil
}

// skip advances i past the characters of set.
func skip(q string, i int, set string) int {
	for i < len(q) && strings.IndexByte(set, q[i]) >= 0 {
		i++
	}
	return i
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' || c == '.' }

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) unexpected(t token) error {
	return &Error{Code: "MALFORMED_QUERY", Query: p.q, Pos: t.pos, Text: fmt.Sprintf("unexpected token: '%s'", t.text)}
}

// keyword reports whether the next token is the keyword kw (case-insensitive) and consumes it.
func (p *parser) keyword(kw string) bool {
	t := p.peek()
	if t.kind == tIdent && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKeyword(kw string) error {
	if !p.keyword(kw) {
		return p.unexpected(p.peek())
	}
	return nil
}

func (p *parser) punct(s string) bool {
	t := p.peek()
	if t.kind == tPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

var reserved = map[string]bool{"SELECT": true, "FROM": true, "WHERE": true, "ORDER": true, "BY": true, "LIMIT": true,
	"OFFSET": true, "AND": true, "OR": true, "NOT": true, "IN": true, "LIKE": true, "ASC": true, "DESC": true,
	"NULLS": true, "GROUP": true, "HAVING": true, "NULL": true, "TRUE": true, "FALSE": true}

func (p *parser) ident() (token, error) {
	t := p.peek()
	if t.kind != tIdent || reserved[strings.ToUpper(t.text)] {
		return t, p.unexpected(t)
	}
	p.i++
	return t, nil
}

func (p *parser) query() (*Query, error) {
	q := &Query{Text: p.q, Limit: -1}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	if err := p.selectList(q); err != nil {
		return nil, err
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	obj, err := p.ident()
	if err != nil {
		return nil, err
	}
	q.Object, q.ObjectPos = obj.text, obj.pos
	if p.keyword("WHERE") {
		if q.Where, err = p.or(); err != nil {
			return nil, err
		}
	}
	if p.keyword("ORDER") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		if err := p.orderBy(q); err != nil {
			return nil, err
		}
	}
	if p.keyword("LIMIT") {
		if q.Limit, err = p.count(); err != nil {
			return nil, err
		}
	}
	if p.keyword("OFFSET") {
		if q.Offset, err = p.count(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return q, nil
}

func (p *parser) selectList(q *Query) error {
	for {
		t, err := p.ident()
		if err != nil {
			return err
		}
		if strings.EqualFold(t.text, "COUNT") && p.punct("(") {
			if p.punct(")") {
				if len(q.Fields) > 0 || q.Count {
					return &Error{Code: "MALFORMED_QUERY", Query: p.q, Pos: t.pos, Text: "COUNT() must be the only element in the SELECT list"}
				}
				q.Count = true
			} else {
				f, err := p.ident()
				if err != nil {
					return err
				}
				if !p.punct(")") {
					return p.unexpected(p.peek())
				}
				q.Fields = append(q.Fields, Field{Name: f.text, Pos: f.pos, Aggregate: "COUNT"})
			}
		} else {
			if q.Count {
				return &Error{Code: "MALFORMED_QUERY", Query: p.q, Pos: t.pos, Text: "COUNT() must be the only element in the SELECT list"}
			}
			q.Fields = append(q.Fields, Field{Name: t.text, Pos: t.pos})
		}
		if !p.punct(",") {
			return nil
		}
	}
}

func (p *parser) orderBy(q *Query) error {
	for {
		f, err := p.ident()
		if err != nil {
			return err
		}
		o := Order{Field: f.text, Pos: f.pos, NullsFirst: true}
		if p.keyword("DESC") {
			o.Desc, o.NullsFirst = true, false
		} else {
			p.keyword("ASC")
		}
		if p.keyword("NULLS") {
			switch {
			case p.keyword("FIRST"):
				o.NullsFirst = true
			case p.keyword("LAST"):
				o.NullsFirst = false
			default:
				return p.unexpected(p.peek())
			}
		}
		q.OrderBy = append(q.OrderBy, o)
		if !p.punct(",") {
			return nil
		}
	}
}

func (p *parser) count() (int, error) {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != tNumber || err != nil || n < 0 {
		return 0, p.unexpected(t)
	}
	return n, nil
}

func (p *parser) or() (Expr, error) { return p.orAt(0) }

// maxDepth bounds nested parentheses and NOTs so a hostile statement cannot exhaust the stack.
const maxDepth = 100

func (p *parser) unaryAt(depth int) (Expr, error) {
	if depth > maxDepth {
		return nil, &Error{Code: "MALFORMED_QUERY", Query: p.q, Pos: p.peek().pos, Text: "conditions nested too deeply"}
	}
	if p.keyword("NOT") {
		x, err := p.unaryAt(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	if p.punct("(") {
		x, err := p.orAt(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, p.unexpected(p.peek())
		}
		return x, nil
	}
	return p.condition()
}

func (p *parser) orAt(depth int) (Expr, error) {
	l, err := p.andAt(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		r, err := p.andAt(depth)
		if err != nil {
			return nil, err
		}
		l = &Or{L: l, R: r}
	}
	return l, nil
}

func (p *parser) andAt(depth int) (Expr, error) {
	l, err := p.unaryAt(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("AND") {
		r, err := p.unaryAt(depth)
		if err != nil {
			return nil, err
		}
		l = &And{L: l, R: r}
	}
	return l, nil
}

func (p *parser) condition() (Expr, error) {
	f, err := p.ident()
	if err != nil {
		return nil, err
	}
	negate := p.keyword("NOT")
	if p.keyword("IN") {
		if !p.punct("(") {
			return nil, p.unexpected(p.peek())
		}
		in := &In{Field: f.text, Pos: f.pos, Negate: negate}
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			in.Values = append(in.Values, v)
			if p.punct(")") {
				return in, nil
			}
			if !p.punct(",") {
				return nil, p.unexpected(p.peek())
			}
		}
	}
	if negate {
		return nil, p.unexpected(p.peek())
	}
	op := p.peek()
	switch {
	case op.kind == tOp:
		p.i++
	case op.kind == tIdent && strings.EqualFold(op.text, "LIKE"):
		p.i++
		op.text = "LIKE"
	default:
		return nil, p.unexpected(op)
	}
	v, err := p.literal()
	if err != nil {
		return nil, err
	}
	if op.text == "LIKE" && v.Kind != LitString {
		return nil, &Error{Code: "MALFORMED_QUERY", Query: p.q, Pos: v.Pos, Text: "LIKE takes a string literal"}
	}
	return &Compare{Field: f.text, Pos: f.pos, Op: op.text, Value: v}, nil
}

// relativeDates are the date literals without a number; LAST_N_DAYS and NEXT_N_DAYS take ":n".
var relativeDates = map[string]bool{"TODAY": true, "YESTERDAY": true, "TOMORROW": true}

func (p *parser) literal() (Literal, error) {
	t := p.next()
	l := Literal{Text: t.text, Pos: t.pos}
	switch t.kind {
	case tString:
		l.Kind = LitString
	case tNumber:
		if _, err := strconv.ParseFloat(t.text, 64); err != nil {
			return l, p.unexpected(t)
		}
		l.Kind = LitNumber
	case tDate:
		if _, err := time.Parse("2006-01-02", t.text); err != nil {
			return l, &Error{Code: "MALFORMED_QUERY", Query: p.q, Pos: t.pos, Text: "invalid date: " + t.text}
		}
		l.Kind = LitDate
	case tDateTime:
		if _, ok := ParseDateTime(t.text); !ok {
			return l, &Error{Code: "MALFORMED_QUERY", Query: p.q, Pos: t.pos, Text: "invalid datetime: " + t.text}
		}
		l.Kind = LitDateTime
	case tIdent:
		up := strings.ToUpper(t.text)
		switch {
		case up == "TRUE" || up == "FALSE":
			l.Kind, l.Text = LitBool, strings.ToLower(up)
		case up == "NULL":
			l.Kind = LitNull
		case relativeDates[up]:
			l.Kind, l.Text = LitRelative, up
		case up == "LAST_N_DAYS" || up == "NEXT_N_DAYS":
			if !p.punct(":") {
				return l, p.unexpected(p.peek())
			}
			n, err := p.count()
			if err != nil {
				return l, err
			}
			l.Kind, l.Text, l.N = LitRelative, up, n
		default:
			return l, p.unexpected(t)
		}
	default:
		return l, p.unexpected(t)
	}
	return l, nil
}

// ParseDateTime reads a SOQL datetime literal: 2024-02-25T02:27:17Z, with optional milliseconds, or an offset
// such as +01:00 instead of Z.
func ParseDateTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
