package org

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org/soql"
)

// Query is a compiled SOQL statement: names resolved against the schema, literals checked against field types.
type Query struct {
	Object *Object
	// Columns are the selected fields' positions (for COUNT(field), the counted field).
	Columns []int
	// Count is COUNT(): the answer is TotalSize alone. Aggregate is COUNT(field): one AggregateResult row.
	Count, Aggregate bool
	// Where lists the fields the condition reads, for PushTopic NotifyForFields.
	WhereFields []int
	match       func(vals []string, now time.Time) bool
	order       []orderKey
	limit       int
	offset      int
}

type orderKey struct {
	field      int
	typ        FieldType
	desc       bool
	nullsFirst bool
}

// Result is a query's answer. Rows hold records' values (shared, never changed); Columns pick from them.
type Result struct {
	*Query
	TotalSize int
	Rows      [][]string
	// AggregateValue is COUNT(field)'s value.
	AggregateValue int
}

// Compile parses and resolves a statement.
func (o *Org) Compile(text string) (*Query, error) { return o.compile(text) }

// Query runs a statement; all includes records in the recycle bin (queryAll).
func (o *Org) Query(text string, all bool) (*Result, error) {
	q, err := o.compile(text)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.runLocked(q, all), nil
}

func (o *Org) runLocked(q *Query, all bool) *Result {
	now := o.cfg.Now()
	t := o.tables[q.Object]
	res := &Result{Query: q}
	var rows [][]string
	for _, r := range t.rows {
		if (!all && r.deleted()) || !q.match(r.vals, now) {
			continue
		}
		rows = append(rows, r.vals)
	}
	if len(q.order) > 0 {
		slices.SortStableFunc(rows, func(a, b []string) int {
			for _, k := range q.order {
				if c := compareStored(k, a[k.field], b[k.field]); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	rows = rows[min(q.offset, len(rows)):]
	if q.limit >= 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	switch {
	case q.Count:
		res.TotalSize = len(rows)
	case q.Aggregate:
		for _, r := range rows {
			if r[q.Columns[0]] != "" {
				res.AggregateValue++
			}
		}
		res.TotalSize = 1
	default:
		res.Rows, res.TotalSize = rows, len(rows)
	}
	return res
}

// Matches reports whether a record's values satisfy the WHERE condition.
func (q *Query) Matches(vals []string, now time.Time) bool { return q.match(vals, now) }

func compareStored(k orderKey, a, b string) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		if k.nullsFirst {
			return -1
		}
		return 1
	case b == "":
		if k.nullsFirst {
			return 1
		}
		return -1
	}
	c := compareTyped(k.typ, a, b)
	if k.desc {
		return -c
	}
	return c
}

// compareTyped orders two non-null stored values of a type.
func compareTyped(t FieldType, a, b string) int {
	if t.Numeric() {
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	if t == TypeDate || t == TypeDateTime || t == TypeBoolean {
		return strings.Compare(a, b) // fixed-width UTC text sorts as time
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func (o *Org) compile(text string) (*Query, error) {
	p, err := soql.Parse(text)
	if err != nil {
		return nil, err
	}
	obj, ok := o.Object(p.Object)
	if !ok {
		return nil, &soql.Error{Code: "INVALID_TYPE", Query: text, Pos: p.ObjectPos, Text: fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", p.Object)}
	}
	field := func(name string, pos int) (*Field, int, error) {
		f, i, ok := obj.Field(name)
		if !ok {
			return nil, 0, &soql.Error{Code: "INVALID_FIELD", Query: text, Pos: pos, Text: fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", name, obj.Name)}
		}
		return f, i, nil
	}
	q := &Query{Object: obj, Count: p.Count, limit: p.Limit, offset: p.Offset}
	for _, sf := range p.Fields {
		_, i, err := field(sf.Name, sf.Pos)
		if err != nil {
			return nil, err
		}
		if sf.Aggregate != "" {
			if len(p.Fields) > 1 {
				return nil, &soql.Error{Code: "MALFORMED_QUERY", Query: text, Pos: sf.Pos, Text: "Field must be grouped or aggregated: " + p.Fields[0].Name}
			}
			q.Aggregate = true
		}
		if !slices.Contains(q.Columns, i) {
			q.Columns = append(q.Columns, i)
		}
	}
	for _, ob := range p.OrderBy {
		f, i, err := field(ob.Field, ob.Pos)
		if err != nil {
			return nil, err
		}
		q.order = append(q.order, orderKey{field: i, typ: f.Type, desc: ob.Desc, nullsFirst: ob.NullsFirst})
	}
	q.match = func([]string, time.Time) bool { return true }
	if p.Where != nil {
		m, err := compileExpr(text, p.Where, field, &q.WhereFields)
		if err != nil {
			return nil, err
		}
		q.match = m
	}
	return q, nil
}

type fieldLookup func(name string, pos int) (*Field, int, error)

type predicate = func(vals []string, now time.Time) bool

func compileExpr(text string, e soql.Expr, field fieldLookup, used *[]int) (predicate, error) {
	switch e := e.(type) {
	case *soql.And:
		l, err := compileExpr(text, e.L, field, used)
		if err != nil {
			return nil, err
		}
		r, err := compileExpr(text, e.R, field, used)
		if err != nil {
			return nil, err
		}
		return func(v []string, now time.Time) bool { return l(v, now) && r(v, now) }, nil
	case *soql.Or:
		l, err := compileExpr(text, e.L, field, used)
		if err != nil {
			return nil, err
		}
		r, err := compileExpr(text, e.R, field, used)
		if err != nil {
			return nil, err
		}
		return func(v []string, now time.Time) bool { return l(v, now) || r(v, now) }, nil
	case *soql.Not:
		x, err := compileExpr(text, e.X, field, used)
		if err != nil {
			return nil, err
		}
		return func(v []string, now time.Time) bool { return !x(v, now) }, nil
	case *soql.Compare:
		f, i, err := field(e.Field, e.Pos)
		if err != nil {
			return nil, err
		}
		addUsed(used, i)
		return compileCompare(text, f, i, e.Op, e.Value)
	case *soql.In:
		f, i, err := field(e.Field, e.Pos)
		if err != nil {
			return nil, err
		}
		addUsed(used, i)
		preds := make([]predicate, 0, len(e.Values))
		for _, lit := range e.Values {
			p, err := compileCompare(text, f, i, "=", lit)
			if err != nil {
				return nil, err
			}
			preds = append(preds, p)
		}
		negate := e.Negate
		return func(v []string, now time.Time) bool {
			for _, p := range preds {
				if p(v, now) {
					return !negate
				}
			}
			return negate
		}, nil
	}
	return nil, errors.New("unknown condition")
}

func addUsed(used *[]int, i int) {
	if !slices.Contains(*used, i) {
		*used = append(*used, i)
	}
}

// compileCompare builds `field op literal`, checking the literal's type against the field's.
func compileCompare(text string, f *Field, i int, op string, lit soql.Literal) (predicate, error) {
	typeErr := func(want string) error {
		return &soql.Error{Code: "INVALID_QUERY_FILTER_OPERATOR", Query: text, Pos: lit.Pos,
			Text: fmt.Sprintf("value of filter criterion for field '%s' must be of type %s", f.Name, want)}
	}
	if lit.Kind == soql.LitNull {
		switch op {
		case "=":
			return func(v []string, _ time.Time) bool { return v[i] == "" }, nil
		case "!=", "<>":
			return func(v []string, _ time.Time) bool { return v[i] != "" }, nil
		}
		return func([]string, time.Time) bool { return false }, nil
	}
	if op == "LIKE" {
		if f.Type.Numeric() || f.Type == TypeBoolean || f.Type == TypeDate || f.Type == TypeDateTime {
			return nil, &soql.Error{Code: "INVALID_QUERY_FILTER_OPERATOR", Query: text, Pos: lit.Pos, Text: fmt.Sprintf("invalid operator on %s field: %s", f.Type, f.Name)}
		}
		pattern := strings.ToLower(lit.Text)
		return func(v []string, _ time.Time) bool { return v[i] != "" && like(strings.ToLower(v[i]), pattern) }, nil
	}
	var want string // the literal as stored text
	switch {
	case f.Type.Numeric():
		if lit.Kind != soql.LitNumber {
			return nil, typeErr("double and should not be enclosed in quotes")
		}
		want = lit.Text
	case f.Type == TypeBoolean:
		if lit.Kind != soql.LitBool {
			return nil, typeErr("boolean and should not be enclosed in quotes")
		}
		want = lit.Text
	case f.Type == TypeDate || f.Type == TypeDateTime:
		switch lit.Kind {
		case soql.LitRelative:
			return relativeCompare(f, i, op, lit), nil
		case soql.LitDate:
			want = lit.Text
			if f.Type == TypeDateTime {
				d, _ := time.Parse("2006-01-02", lit.Text)
				want = d.Format(DateTimeLayout)
			}
		case soql.LitDateTime:
			t, _ := soql.ParseDateTime(lit.Text)
			want = t.UTC().Format(DateTimeLayout)
			if f.Type == TypeDate {
				want = t.UTC().Format("2006-01-02")
			}
		default:
			return nil, typeErr(string(f.Type) + " and should not be enclosed in quotes")
		}
	default:
		if lit.Kind != soql.LitString {
			return nil, typeErr("string and should be enclosed in quotes")
		}
		want = lit.Text
		if f.Type == TypeID || f.Type == TypeReference {
			if full, ok := NormalizeID(want); ok {
				want = full
			}
		}
	}
	cmp := func(stored string) int { return compareTyped(f.Type, stored, want) }
	switch op {
	case "=":
		return func(v []string, _ time.Time) bool { return v[i] != "" && cmp(v[i]) == 0 }, nil
	case "!=", "<>":
		return func(v []string, _ time.Time) bool { return v[i] == "" || cmp(v[i]) != 0 }, nil
	case "<":
		return func(v []string, _ time.Time) bool { return v[i] != "" && cmp(v[i]) < 0 }, nil
	case "<=":
		return func(v []string, _ time.Time) bool { return v[i] != "" && cmp(v[i]) <= 0 }, nil
	case ">":
		return func(v []string, _ time.Time) bool { return v[i] != "" && cmp(v[i]) > 0 }, nil
	case ">=":
		return func(v []string, _ time.Time) bool { return v[i] != "" && cmp(v[i]) >= 0 }, nil
	}
	return nil, &soql.Error{Code: "MALFORMED_QUERY", Query: text, Pos: lit.Pos, Text: "unexpected operator " + op}
}

// relativeCompare compares a date or datetime field with TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n or
// NEXT_N_DAYS:n, each a range of whole UTC days [lo, hi) evaluated when the query runs.
func relativeCompare(f *Field, i int, op string, lit soql.Literal) predicate {
	layout := DateTimeLayout
	if f.Type == TypeDate {
		layout = "2006-01-02"
	}
	return func(v []string, now time.Time) bool {
		if v[i] == "" {
			return op == "!=" || op == "<>"
		}
		today := now.UTC().Truncate(24 * time.Hour)
		lo, hi := today, today.AddDate(0, 0, 1)
		switch lit.Text {
		case "YESTERDAY":
			lo, hi = today.AddDate(0, 0, -1), today
		case "TOMORROW":
			lo, hi = hi, today.AddDate(0, 0, 2)
		case "LAST_N_DAYS":
			lo = today.AddDate(0, 0, -lit.N)
		case "NEXT_N_DAYS":
			hi = today.AddDate(0, 0, lit.N+1)
		}
		l, h := lo.Format(layout), hi.Format(layout)
		s := v[i]
		switch op {
		case "=":
			return s >= l && s < h
		case "!=", "<>":
			return s < l || s >= h
		case "<":
			return s < l
		case "<=":
			return s < h
		case ">":
			return s >= h
		case ">=":
			return s >= l
		}
		return false
	}
}

// like matches SOQL LIKE: % any run, _ one character; both already lower-cased. It backtracks only to the last
// %, so it is linear in len(s) times len(p).
func like(s, p string) bool {
	si, pi, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '_' || p[pi] == s[si]):
			si++
			pi++
		case pi < len(p) && p[pi] == '%':
			star, mark = pi, si
			pi++
		case star >= 0:
			mark++
			si, pi = mark, star+1
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}
