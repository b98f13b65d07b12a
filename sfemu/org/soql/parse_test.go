package soql

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name  string
		q     string
		check func(t *testing.T, q *Query)
	}{
		{"fields", "SELECT Id, Name FROM Account", func(t *testing.T, q *Query) {
			assert.Equal(t, []Field{{Name: "Id", Pos: 7}, {Name: "Name", Pos: 11}}, q.Fields)
			assert.Equal(t, "Account", q.Object)
			assert.Nil(t, q.Where)
			assert.Equal(t, -1, q.Limit)
		}},
		{"keywords in any case", "select id from account limit 5 offset 2", func(t *testing.T, q *Query) {
			assert.Equal(t, 5, q.Limit)
			assert.Equal(t, 2, q.Offset)
		}},
		{"count()", "SELECT COUNT() FROM Account WHERE Industry = 'Energy'", func(t *testing.T, q *Query) {
			assert.True(t, q.Count)
			assert.Empty(t, q.Fields)
			assert.Equal(t, &Compare{Field: "Industry", Pos: 34, Op: "=", Value: Literal{Kind: LitString, Text: "Energy", Pos: 45}}, q.Where)
		}},
		{"count(field)", "SELECT COUNT(Id) FROM Account", func(t *testing.T, q *Query) {
			assert.Equal(t, []Field{{Name: "Id", Pos: 13, Aggregate: "COUNT"}}, q.Fields)
		}},
		{"and binds tighter than or", "SELECT Id FROM Account WHERE A = 1 OR B = 2 AND C = 3", func(t *testing.T, q *Query) {
			or, ok := q.Where.(*Or)
			require.True(t, ok)
			_, ok = or.R.(*And)
			assert.True(t, ok)
		}},
		{"parentheses and not", "SELECT Id FROM Account WHERE NOT (A = 1 OR B != null)", func(t *testing.T, q *Query) {
			n, ok := q.Where.(*Not)
			require.True(t, ok)
			or := n.X.(*Or)
			assert.Equal(t, LitNull, or.R.(*Compare).Value.Kind)
			assert.Equal(t, "!=", or.R.(*Compare).Op)
		}},
		{"in and not in", "SELECT Id FROM Account WHERE Id IN ('001A', '001B') AND Type NOT IN ('x')", func(t *testing.T, q *Query) {
			and := q.Where.(*And)
			in := and.L.(*In)
			assert.False(t, in.Negate)
			assert.Len(t, in.Values, 2)
			assert.True(t, and.R.(*In).Negate)
		}},
		{"dates, datetimes and relative", "SELECT Id FROM Account WHERE SystemModstamp > 2024-02-25T02:27:17Z AND CreatedDate <= 2024-02-25T02:27:17.000+01:00 AND LastModifiedDate = LAST_N_DAYS:7 AND X__c = 2024-01-31 AND Y = TODAY", func(t *testing.T, q *Query) {
			var lits []Literal
			var walk func(e Expr)
			walk = func(e Expr) {
				switch e := e.(type) {
				case *And:
					walk(e.L)
					walk(e.R)
				case *Compare:
					lits = append(lits, e.Value)
				}
			}
			walk(q.Where)
			require.Len(t, lits, 5)
			assert.Equal(t, LitDateTime, lits[0].Kind)
			assert.Equal(t, LitDateTime, lits[1].Kind)
			assert.Equal(t, Literal{Kind: LitRelative, Text: "LAST_N_DAYS", N: 7, Pos: lits[2].Pos}, lits[2])
			assert.Equal(t, LitDate, lits[3].Kind)
			assert.Equal(t, "TODAY", lits[4].Text)
		}},
		{"numbers and booleans", "SELECT Id FROM Account WHERE AnnualRevenue >= -1.5 AND IsDeleted = TRUE AND N < 10", func(t *testing.T, q *Query) {
			and := q.Where.(*And)
			assert.Equal(t, "-1.5", and.L.(*And).L.(*Compare).Value.Text)
			assert.Equal(t, Literal{Kind: LitBool, Text: "true", Pos: and.L.(*And).R.(*Compare).Value.Pos}, and.L.(*And).R.(*Compare).Value)
		}},
		{"string escapes and like", `SELECT Id FROM Account WHERE Name LIKE 'O\'Brien%'`, func(t *testing.T, q *Query) {
			c := q.Where.(*Compare)
			assert.Equal(t, "LIKE", c.Op)
			assert.Equal(t, "O'Brien%", c.Value.Text)
		}},
		{"order by", "SELECT Id FROM Account ORDER BY Name DESC NULLS FIRST, Id", func(t *testing.T, q *Query) {
			assert.Equal(t, []Order{{Field: "Name", Pos: 32, Desc: true, NullsFirst: true}, {Field: "Id", Pos: 55, NullsFirst: true}}, q.OrderBy)
		}},
		{"multi-line", "SELECT Id\nFROM Account\nWHERE Name = 'a'", func(t *testing.T, q *Query) {
			assert.Equal(t, "Account", q.Object)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := Parse(c.q)
			require.NoError(t, err)
			c.check(t, q)
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		q, message string
	}{
		// Salesforce's own message for a missing select list (a real answer quoted in client code).
		{"SELECT LastModifiedById, LastModifiedDate, From Account ", "\nSELECT LastModifiedById, LastModifiedDate, From Account \n                                           ^\nERROR at Row:1:Column:44\nunexpected token: 'From'"},
		{"SELECT Id FROM", "\nSELECT Id FROM\n              ^\nERROR at Row:1:Column:15\nunexpected token: '<EOF>'"},
		{"SELECT Id FROM Account WHERE", "\nSELECT Id FROM Account WHERE\n                            ^\nERROR at Row:1:Column:29\nunexpected token: '<EOF>'"},
		{"SELECT Id FROM Account WHERE Name = 'x", "\nSELECT Id FROM Account WHERE Name = 'x\n                                    ^\nERROR at Row:1:Column:37\nunterminated string literal"},
		{"SELECT Id\nFROM Account LIMIT x", "\nFROM Account LIMIT x\n                   ^\nERROR at Row:2:Column:20\nunexpected token: 'x'"},
		{"SELECT COUNT(), Id FROM Account", "\nSELECT COUNT(), Id FROM Account\n                ^\nERROR at Row:1:Column:17\nCOUNT() must be the only element in the SELECT list"},
		{"SELECT Id FROM Account WHERE Name LIKE 3", "\nSELECT Id FROM Account WHERE Name LIKE 3\n                                       ^\nERROR at Row:1:Column:40\nLIKE takes a string literal"},
		{"SELECT Id FROM Account WHERE A = 2024-13-01", "\nSELECT Id FROM Account WHERE A = 2024-13-01\n                                 ^\nERROR at Row:1:Column:34\ninvalid date: 2024-13-01"},
		{"SELECT Id FROM Account WHERE A ! 1", "\nSELECT Id FROM Account WHERE A ! 1\n                               ^\nERROR at Row:1:Column:32\nunexpected token: '!'"},
		{"SELECT Id FROM Account GROUP BY Name", "\nSELECT Id FROM Account GROUP BY Name\n                       ^\nERROR at Row:1:Column:24\nunexpected token: 'GROUP'"},
		{"DELETE FROM Account", "\nDELETE FROM Account\n^\nERROR at Row:1:Column:1\nunexpected token: 'DELETE'"},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			_, err := Parse(c.q)
			var qe *Error
			require.True(t, errors.As(err, &qe), "error %v", err)
			assert.Equal(t, "MALFORMED_QUERY", qe.Code)
			assert.Equal(t, c.message, qe.Error())
		})
	}
}

func TestParseBoundsNesting(t *testing.T) {
	q := "SELECT Id FROM Account WHERE "
	for range 500 {
		q += "("
	}
	_, err := Parse(q + "A = 1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nested too deeply")
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"SELECT Id, Name FROM Account WHERE Name = 'x' AND (A > 1 OR B IN (1,2)) ORDER BY Name DESC LIMIT 3",
		"SELECT COUNT() FROM Lead WHERE CreatedDate = LAST_N_DAYS:3", "select id from a where x like '%\\'%'",
		"SELECT Id FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00.000+0000 OFFSET 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			_ = qe.Error() // renders without panicking at any position
			return
		}
		if q.Object == "" || (!q.Count && len(q.Fields) == 0) {
			t.Fatalf("accepted %q without object or fields: %+v", s, q)
		}
	})
}
