package org

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org/soql"
)

const testUser = "0055e000001SfEmUAA"

type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func newTestOrg(t *testing.T, custom ...ObjectSpec) (*Org, *fixedClock) {
	t.Helper()
	clock := &fixedClock{t: time.Date(2026, 3, 4, 10, 20, 30, 500e6, time.UTC)}
	o, err := New(Config{OrgID: "00D5e000000SfEmUAQ", UserID: testUser, Now: clock.now, Seed: 1, Custom: custom})
	require.NoError(t, err)
	return o, clock
}

func field(t *testing.T, r Record, name string) string {
	t.Helper()
	_, i, ok := r.Object.Field(name)
	require.True(t, ok, name)
	return r.Values[i]
}

func TestRecordLifecycle(t *testing.T) {
	o, clock := newTestOrg(t)
	res, tx := o.Apply("rest", false, Op{Kind: OpCreate, Object: "account", Fields: map[string]any{"Name": "Sitwell-Bluth", "NumberOfEmployees": 12.0, "Description": nil}})
	require.True(t, res[0].Success, "%+v", res[0].Errors)
	id := res[0].ID
	assert.Len(t, id, 18)
	assert.Equal(t, "001", id[:3])
	require.NotNil(t, tx)
	require.Len(t, tx.Changes, 1)
	assert.Equal(t, Created, tx.Changes[0].Type)
	assert.Regexp(t, `^000[0-9a-f]{5}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, tx.Key)

	r, ok := o.Get(id[:15])
	require.True(t, ok)
	assert.Equal(t, "Sitwell-Bluth", field(t, r, "Name"))
	assert.Equal(t, "12", field(t, r, "NumberOfEmployees"))
	assert.Equal(t, testUser, field(t, r, "OwnerId"))
	assert.Equal(t, "2026-03-04T10:20:30.000+0000", field(t, r, "SystemModstamp"))
	assert.Equal(t, "false", field(t, r, "IsDeleted"))

	clock.t = clock.t.Add(time.Minute)
	res, tx = o.Apply("rest", false, Op{Kind: OpUpdate, ID: id, Fields: map[string]any{"Phone": "(415) 555-0100", "Name": "Sitwell-Bluth"}})
	require.True(t, res[0].Success)
	ch := tx.Changes[0]
	names := []string{}
	for _, i := range ch.Changed {
		names = append(names, ch.Object.Fields[i].Name)
	}
	assert.Equal(t, []string{"Phone", "LastModifiedDate"}, names, "an unchanged value is not a changed field")
	r, _ = o.Get(id)
	assert.Equal(t, "2026-03-04T10:21:30.000+0000", field(t, r, "LastModifiedDate"))
	assert.Equal(t, "2026-03-04T10:20:30.000+0000", field(t, r, "CreatedDate"))

	res, _ = o.Apply("rest", false, Op{Kind: OpDelete, ID: id})
	require.True(t, res[0].Success)
	r, _ = o.Get(id)
	assert.True(t, r.Deleted())
	assert.Equal(t, 0, o.Count(r.Object))
	res, _ = o.Apply("rest", false, Op{Kind: OpDelete, ID: id})
	assert.Equal(t, "ENTITY_IS_DELETED", res[0].Errors[0].StatusCode)
	res, _ = o.Apply("rest", false, Op{Kind: OpUpdate, ID: id, Fields: map[string]any{"Name": "x"}})
	assert.Equal(t, "ENTITY_IS_DELETED", res[0].Errors[0].StatusCode)

	res, tx = o.Apply("rest", false, Op{Kind: OpUndelete, ID: id})
	require.True(t, res[0].Success)
	assert.Equal(t, Undeleted, tx.Changes[0].Type)
	assert.Equal(t, 1, o.Count(r.Object))
	res, _ = o.Apply("rest", false, Op{Kind: OpUndelete, ID: id})
	assert.Equal(t, "UNDELETE_FAILED", res[0].Errors[0].StatusCode)
	assert.Len(t, o.Drain(), 4, "failed operations commit nothing")
	assert.Empty(t, o.Drain())
}

func TestApplyErrors(t *testing.T) {
	o, _ := newTestOrg(t)
	cases := []struct {
		name string
		op   Op
		code string
		msg  string
	}{
		{"unknown field", Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{"Name": "a", "foo": 1}}, "INVALID_FIELD", "No such column 'foo' on sobject of type Account"},
		{"id in body", Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{"Id": "001", "Name": "a"}}, "INVALID_FIELD", "The Id field should not be specified in the sobject data."},
		{"required missing", Op{Kind: OpCreate, Object: "Opportunity", Fields: map[string]any{"Name": "a"}}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [StageName, CloseDate]"},
		{"read-only field", Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{"Name": "a", "CreatedDate": "2020-01-01T00:00:00Z"}}, "INVALID_FIELD_FOR_INSERT_UPDATE", ""},
		{"wrong type", Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{"Name": "a", "NumberOfEmployees": "many"}}, "JSON_PARSER_ERROR", ""},
		{"too long", Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{"Name": string(make([]byte, 256))}}, "STRING_TOO_LONG", ""},
		{"unknown id", Op{Kind: OpUpdate, ID: MakeID("001", 999), Fields: map[string]any{"Name": "a"}}, "NOT_FOUND", "The requested resource does not exist"},
		{"malformed id", Op{Kind: OpDelete, ID: "nope"}, "MALFORMED_ID", ""},
		{"bad pushtopic query", Op{Kind: OpCreate, Object: "PushTopic", Fields: map[string]any{"Name": "T", "Query": "SELECT Id FROM Nope", "ApiVersion": 66.0}}, "INVALID_FIELD", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, tx := o.Apply("rest", false, c.op)
			assert.Nil(t, tx)
			require.False(t, res[0].Success)
			assert.Equal(t, c.code, res[0].Errors[0].StatusCode)
			if c.msg != "" {
				assert.Equal(t, c.msg, res[0].Errors[0].Message)
			}
		})
	}
}

func TestAllOrNoneAndSequence(t *testing.T) {
	o, _ := newTestOrg(t)
	res, tx := o.Apply("rest", true, Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{"Name": "a"}}, Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{}})
	assert.Nil(t, tx)
	assert.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", res[0].Errors[0].StatusCode)
	assert.Equal(t, "REQUIRED_FIELD_MISSING", res[1].Errors[0].StatusCode)
	assert.Empty(t, o.Drain())

	res, tx = o.Apply("rest", false, Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{"Name": "a"}}, Op{Kind: OpCreate, Object: "Account", Fields: map[string]any{}},
		Op{Kind: OpCreate, Object: "Contact", Fields: map[string]any{"LastName": "b"}})
	assert.True(t, res[0].Success)
	assert.False(t, res[1].Success)
	require.Len(t, tx.Changes, 2, "one transaction carries the successful changes")
	assert.Equal(t, "Contact", tx.Changes[1].Object.Name)
}

func TestUniqueName(t *testing.T) {
	o, _ := newTestOrg(t)
	topic := map[string]any{"Name": "AccountUpdates", "Query": "SELECT Id, Name FROM Account", "ApiVersion": 66.0}
	res, _ := o.Apply("rest", false, Op{Kind: OpCreate, Object: "PushTopic", Fields: topic})
	require.True(t, res[0].Success)
	r, _ := o.Get(res[0].ID)
	assert.Equal(t, "0IF", r.ID()[:3])
	assert.Equal(t, "Referenced", field(t, r, "NotifyForFields"))
	assert.Equal(t, "true", field(t, r, "NotifyForOperationUndelete"))
	res, _ = o.Apply("rest", false, Op{Kind: OpCreate, Object: "PushTopic", Fields: topic})
	assert.Equal(t, "DUPLICATE_VALUE", res[0].Errors[0].StatusCode)
}

func TestQuery(t *testing.T) {
	o, clock := newTestOrg(t, ObjectSpec{Name: "Invoice__c", Fields: []FieldSpec{{Name: "Amount__c", Type: TypeCurrency}}})
	mk := func(fields map[string]any) string {
		res, _ := o.Apply("rest", false, Op{Kind: OpCreate, Object: "Account", Fields: fields})
		require.True(t, res[0].Success, "%+v", res[0].Errors)
		return res[0].ID
	}
	a := mk(map[string]any{"Name": "Alpha", "Industry": "Energy", "NumberOfEmployees": 10.0})
	clock.t = clock.t.Add(48 * time.Hour)
	b := mk(map[string]any{"Name": "beta", "Industry": "Banking", "NumberOfEmployees": 200.0})
	c := mk(map[string]any{"Name": "Gamma", "NumberOfEmployees": 30.0})
	res, _ := o.Apply("rest", false, Op{Kind: OpDelete, ID: c})
	require.True(t, res[0].Success)

	cases := []struct {
		q     string
		all   bool
		ids   []string
		count int // for COUNT()
	}{
		{q: "SELECT Id FROM Account", ids: []string{a, b}},
		{q: "SELECT Id FROM Account", all: true, ids: []string{a, b, c}},
		{q: "SELECT Id FROM Account WHERE IsDeleted = true", all: true, ids: []string{c}},
		{q: "SELECT Id FROM Account WHERE Name = 'ALPHA'", ids: []string{a}},
		{q: "SELECT Id FROM Account WHERE Name LIKE 'b%'", ids: []string{b}},
		{q: "SELECT Id FROM Account WHERE NumberOfEmployees > 20 OR Industry = 'Energy' ORDER BY NumberOfEmployees DESC", all: true, ids: []string{b, c, a}},
		{q: "SELECT Id FROM Account WHERE Industry IN ('Banking', 'Energy') AND NOT Name = 'beta'", ids: []string{a}},
		{q: "SELECT Id FROM Account WHERE Industry NOT IN ('Banking')", ids: []string{a}},
		{q: "SELECT Id FROM Account WHERE Industry = null", all: true, ids: []string{c}},
		{q: "SELECT Id FROM Account ORDER BY Industry NULLS LAST", all: true, ids: []string{b, a, c}},
		{q: "SELECT Id FROM Account WHERE SystemModstamp > 2026-03-05T00:00:00Z", ids: []string{b}},
		{q: "SELECT Id FROM Account WHERE CreatedDate < 2026-03-05T01:00:00+01:00", ids: []string{a}},
		{q: "SELECT Id FROM Account WHERE CreatedDate = TODAY", ids: []string{b}},
		{q: "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:2", ids: []string{a, b}},
		{q: "SELECT Id FROM Account WHERE CreatedDate < YESTERDAY", ids: []string{a}},
		{q: "SELECT Id FROM Account WHERE Id = '" + a[:15] + "'", ids: []string{a}},
		{q: "SELECT Id FROM Account ORDER BY Name LIMIT 1 OFFSET 1", ids: []string{b}},
		{q: "SELECT COUNT() FROM Account", count: 2},
		{q: "SELECT COUNT() FROM Account WHERE NumberOfEmployees >= 30", all: true, count: 2},
		{q: "SELECT Id FROM Invoice__c", ids: nil},
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			r, err := o.Query(tc.q, tc.all)
			require.NoError(t, err)
			if r.Count {
				assert.Equal(t, tc.count, r.TotalSize)
				return
			}
			var ids []string
			for _, row := range r.Rows {
				ids = append(ids, row[r.Columns[0]])
			}
			assert.Equal(t, tc.ids, ids)
			assert.Equal(t, len(tc.ids), r.TotalSize)
		})
	}

	r, err := o.Query("SELECT COUNT(Industry) FROM Account", true)
	require.NoError(t, err)
	assert.True(t, r.Aggregate)
	assert.Equal(t, 2, r.AggregateValue)
}

func TestQueryErrors(t *testing.T) {
	o, _ := newTestOrg(t)
	cases := []struct{ q, code, msg string }{
		{"SELECT Bacon__c FROM Account LIMIT 2", "INVALID_FIELD", "\nSELECT Bacon__c FROM Account LIMIT 2\n       ^\nERROR at Row:1:Column:8\nNo such column 'Bacon__c' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."},
		{"select count() from XYZZY", "INVALID_TYPE", "\nselect count() from XYZZY\n                    ^\nERROR at Row:1:Column:21\nsObject type 'XYZZY' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."},
		{"SELECT Id FROM Account WHERE NumberOfEmployees = '3'", "INVALID_QUERY_FILTER_OPERATOR", ""},
		{"SELECT Id FROM Account WHERE Name = 3", "INVALID_QUERY_FILTER_OPERATOR", ""},
		{"SELECT Id FROM Account WHERE NumberOfEmployees LIKE 'x'", "INVALID_QUERY_FILTER_OPERATOR", ""},
		{"SELECT Id FROM Account ORDER BY Nope", "INVALID_FIELD", ""},
		{"SELECT Id FROM Account WHERE", "MALFORMED_QUERY", ""},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			_, err := o.Query(c.q, false)
			var qe *soql.Error
			require.True(t, errors.As(err, &qe), "%v", err)
			assert.Equal(t, c.code, qe.Code)
			if c.msg != "" {
				assert.Equal(t, c.msg, qe.Error())
			}
		})
	}
}

func TestBulkQuery(t *testing.T) {
	o, _ := newTestOrg(t)
	require.NoError(t, o.Populate("Account", 5))
	_, err := o.CreateBulkQuery("SELECT COUNT() FROM Account", "query", "", "", "66.0")
	require.Error(t, err)
	job, err := o.CreateBulkQuery("SELECT Id, Name, Description FROM Account ORDER BY Id", "query", "", "", "66.0")
	require.NoError(t, err)
	assert.Equal(t, "UploadComplete", job.State)
	assert.Equal(t, "750", job.ID[:3])
	_, err = o.BulkResults(job.ID, "", 0)
	assert.ErrorIs(t, err, ErrJobNotComplete)
	st, err := o.BulkJobStatus(job.ID)
	require.NoError(t, err)
	assert.Equal(t, "JobComplete", st.State)
	assert.Equal(t, 5, st.Processed)

	all, _ := o.Query("SELECT Id FROM Account ORDER BY Id", false)
	var seen []string
	locator, pages := "", 0
	for {
		page, err := o.BulkResults(job.ID, locator, 2)
		require.NoError(t, err)
		pages++
		lines := splitLines(string(page.CSV))
		assert.Equal(t, `"Id","Name","Description"`, lines[0])
		assert.Len(t, lines, page.Records+1)
		for _, l := range lines[1:] {
			seen = append(seen, l[1:19])
		}
		if page.Locator == "null" {
			break
		}
		locator = page.Locator
	}
	assert.Equal(t, 3, pages)
	require.Len(t, seen, 5)
	for i, row := range all.Rows {
		assert.Equal(t, row[0], seen[i])
	}
	_, err = o.BulkResults(job.ID, "garbage", 2)
	assert.ErrorIs(t, err, ErrBadLocator)
	require.NoError(t, o.DeleteBulkJob(job.ID))
	_, err = o.BulkJobStatus(job.ID)
	assert.ErrorIs(t, err, ErrNoJob)
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

func TestPopulateAndCustomObjects(t *testing.T) {
	o, _ := newTestOrg(t, ObjectSpec{Name: "Invoice__c", Fields: []FieldSpec{{Name: "Status__c", Type: TypePicklist}, {Name: "Amount__c", Type: TypeCurrency}}})
	require.NoError(t, o.Populate("Account", 100))
	require.NoError(t, o.Populate("Invoice__c", 3))
	require.NoError(t, o.Populate("Case", 2))
	assert.Empty(t, o.Drain(), "populated records are history, not changes")
	acct, _ := o.Object("Account")
	assert.Equal(t, 100, o.Count(acct))
	for _, r := range o.Records(acct) {
		assert.NotEmpty(t, field(t, r, "Name"))
		assert.NotEmpty(t, field(t, r, "Industry"))
		_, ok := NormalizeID(r.ID())
		assert.True(t, ok)
	}
	inv, ok := o.Object("invoice__c")
	require.True(t, ok)
	assert.Equal(t, "a00", inv.KeyPrefix)
	assert.Equal(t, "Invoice__ChangeEvent", inv.ChangeEventName())
	cs, _ := o.Object("Case")
	assert.Equal(t, "00001001", field(t, o.Records(cs)[0], "CaseNumber"))
	assert.Error(t, o.Populate("Nope", 1))
	assert.Error(t, o.Populate("User", 1))

	_, err := ParseObjectSpec("Bad")
	assert.Error(t, err)
	_, err = ParseObjectSpec("Ok__c:Amount__c=money")
	assert.ErrorContains(t, err, "unknown type")
	spec, err := ParseObjectSpec("Ok__c:Amount__c=currency,Note__c")
	require.NoError(t, err)
	assert.Equal(t, ObjectSpec{Name: "Ok__c", Fields: []FieldSpec{{Name: "Amount__c", Type: TypeCurrency}, {Name: "Note__c", Type: TypeString}}}, spec)
}

func TestLike(t *testing.T) {
	for _, c := range []struct {
		s, p string
		want bool
	}{{"acme", "a%", true}, {"acme", "%me", true}, {"acme", "a_me", true}, {"acme", "a_e", false}, {"", "%", true}, {"abc", "%%%c", true}, {"abc", "%d%", false}} {
		assert.Equal(t, c.want, like(c.s, c.p), "%q LIKE %q", c.s, c.p)
	}
}

func TestRandomIDFollowsTheRecycleBin(t *testing.T) {
	o, _ := newTestOrg(t)
	require.NoError(t, o.Populate("Account", 3))
	acct, _ := o.Object("Account")
	assert.Empty(t, o.RandomID(acct, true), "nothing deleted yet")
	recs := o.Records(acct)
	for _, r := range recs[:2] {
		res, _ := o.Apply("rest", false, Op{Kind: OpDelete, ID: r.ID()})
		require.True(t, res[0].Success)
	}
	seen := map[string]bool{}
	for range 50 {
		seen[o.RandomID(acct, true)] = true
	}
	assert.Equal(t, map[string]bool{recs[0].ID(): true, recs[1].ID(): true}, seen)
	res, _ := o.Apply("rest", false, Op{Kind: OpUndelete, ID: recs[0].ID()})
	require.True(t, res[0].Success)
	for range 20 {
		assert.Equal(t, recs[1].ID(), o.RandomID(acct, true))
		assert.NotEqual(t, recs[1].ID(), o.RandomID(acct, false))
	}
}

// Generated values satisfy every object's rules: a create and an update of each object that takes generated
// changes succeed.
func TestFakeValuesAreValid(t *testing.T) {
	o, _ := newTestOrg(t, ObjectSpec{Name: "Invoice__c", Fields: []FieldSpec{{Name: "Due__c", Type: TypeDate}, {Name: "Paid__c", Type: TypeBoolean}, {Name: "At__c", Type: TypeDateTime}}})
	for _, name := range []string{"Account", "Contact", "Opportunity", "Lead", "Case", "Invoice__c"} {
		t.Run(name, func(t *testing.T) {
			obj, _ := o.Object(name)
			for range 20 {
				res, _ := o.Apply("test", false, Op{Kind: OpCreate, Object: name, Fields: o.FakeFields(obj)})
				require.True(t, res[0].Success, "%+v", res[0].Errors)
				res, _ = o.Apply("test", false, Op{Kind: OpUpdate, ID: res[0].ID, Fields: o.FakeUpdate(obj)})
				require.True(t, res[0].Success, "%+v", res[0].Errors)
			}
		})
	}
}

func TestPersonName(t *testing.T) {
	o, _ := newTestOrg(t)
	res, _ := o.Apply("rest", false, Op{Kind: OpCreate, Object: "Contact", Fields: map[string]any{"FirstName": "Ada", "LastName": "Lovelace"}})
	require.True(t, res[0].Success)
	r, _ := o.Get(res[0].ID)
	assert.Equal(t, "Ada Lovelace", field(t, r, "Name"))
	res, tx := o.Apply("rest", false, Op{Kind: OpUpdate, ID: r.ID(), Fields: map[string]any{"FirstName": "Augusta"}})
	require.True(t, res[0].Success)
	var changed []string
	for _, i := range tx.Changes[0].Changed {
		changed = append(changed, r.Object.Fields[i].Name)
	}
	assert.Equal(t, []string{"Name", "FirstName", "LastModifiedDate"}, changed)
	res, _ = o.Apply("rest", false, Op{Kind: OpUpdate, ID: r.ID(), Fields: map[string]any{"Name": "x"}})
	assert.Equal(t, "INVALID_FIELD_FOR_INSERT_UPDATE", res[0].Errors[0].StatusCode)
	rs, err := o.Query("SELECT Name FROM Lead", false)
	require.NoError(t, err)
	assert.Zero(t, rs.TotalSize)
}
