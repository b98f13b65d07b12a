package jsonw

// Chain is an Obj whose adders return it, for answers written as one expression.
type Chain struct{ o Obj }

// NewChain starts an object appended to b.
func NewChain(b []byte) *Chain { return &Chain{Make(b)} }

// Str adds a string member.
func (c *Chain) Str(k, v string) *Chain { c.o.Str(k, v); return c }

// Raw adds an already encoded member.
func (c *Chain) Raw(k string, v []byte) *Chain { c.o.Raw(k, v); return c }

// Bool adds a boolean member.
func (c *Chain) Bool(k string, v bool) *Chain { c.o.Bool(k, v); return c }

// Int adds an integer member.
func (c *Chain) Int(k string, v int64) *Chain { c.o.Int(k, v); return c }

// Done closes the object and returns the buffer.
func (c *Chain) Done() []byte { return c.o.Done() }

// StrIf adds a string member only when v is not empty.
func (c *Chain) StrIf(k, v string) *Chain {
	if v != "" {
		c.o.Str(k, v)
	}
	return c
}

// Open returns the members written so far, after the opening brace, for splicing into another object.
func (c *Chain) Open() []byte { return c.o.Open() }
