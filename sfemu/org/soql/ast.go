// Package soql parses the subset of the Salesforce Object Query Language that sfemu's org answers: SELECT of
// fields or COUNT() FROM one object, WHERE with AND, OR, NOT, comparisons, LIKE and IN, date and datetime
// literals (also TODAY, YESTERDAY, LAST_N_DAYS:n), ORDER BY, LIMIT and OFFSET. It knows no schema: names are
// checked by the org, which reports errors at the positions recorded here.
package soql

// Query is a parsed SELECT statement.
type Query struct {
	Text   string  // the statement as given, for error messages
	Fields []Field // selected fields, in order (empty for COUNT())
	// Count is set by COUNT(): the answer is a number, not rows.
	Count bool
	// Object is the FROM object as written; ObjectPos its offset.
	Object    string
	ObjectPos int
	Where     Expr // nil: every row
	OrderBy   []Order
	Limit     int // -1: none
	Offset    int
}

// Field is a selected field or an aggregate of one (COUNT(Id) is Aggregate "COUNT", Name "Id").
type Field struct {
	Name      string
	Pos       int
	Aggregate string // "" or "COUNT"
}

// Order is one ORDER BY key.
type Order struct {
	Field      string
	Pos        int
	Desc       bool
	NullsFirst bool // ASC defaults to NULLS FIRST, DESC to NULLS LAST
}

// Expr is a WHERE condition: *And, *Or, *Not, *Compare or *In.
type Expr interface{ expr() }

// And holds when both sides hold.
type And struct{ L, R Expr }

// Or holds when either side holds.
type Or struct{ L, R Expr }

// Not negates X.
type Not struct{ X Expr }

// Compare is `Field Op Value`, Op one of = != <> < <= > >= LIKE.
type Compare struct {
	Field string
	Pos   int
	Op    string
	Value Literal
}

// In is `Field [NOT] IN (values...)`.
type In struct {
	Field  string
	Pos    int
	Negate bool
	Values []Literal
}

func (*And) expr()     {}
func (*Or) expr()      {}
func (*Not) expr()     {}
func (*Compare) expr() {}
func (*In) expr()      {}

// LiteralKind is the type of a literal as written.
type LiteralKind int

// Literal kinds.
const (
	LitString   LiteralKind = iota + 1 // 'text' (Text holds the unescaped value)
	LitNumber                          // 12, -3.5
	LitBool                            // true, false
	LitNull                            // null
	LitDate                            // 2024-02-25
	LitDateTime                        // 2024-02-25T02:27:17Z, 2024-02-25T02:27:17.000+01:00
	LitRelative                        // TODAY, YESTERDAY, LAST_N_DAYS:n (N holds n)
)

// Literal is a value in a condition.
type Literal struct {
	Kind LiteralKind
	Text string
	N    int
	Pos  int
}
