package orgstream

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

const user = "0055e000001SfEmUAA"

type event struct {
	channel string // entity name for changes, topic name for PushTopic events
	kind    org.ChangeType
	body    map[string]any
}

type recSink struct {
	events   []event
	channels map[string]string
	logs     []string
}

func (k *recSink) Change(obj *org.Object, payload []byte) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		panic(err)
	}
	k.events = append(k.events, event{channel: obj.Name, body: m})
}

func (k *recSink) Topic(name string, sobject []byte, t org.ChangeType) {
	var m map[string]any
	if err := json.Unmarshal(sobject, &m); err != nil {
		panic(err)
	}
	k.events = append(k.events, event{channel: name, kind: t, body: m})
}

func (k *recSink) StreamingChannel(id, name string, deleted bool) {
	if deleted {
		delete(k.channels, id)
		return
	}
	k.channels[id] = name
}

func (k *recSink) Logf(format string, args ...any) {
	k.logs = append(k.logs, fmt.Sprintf(format, args...))
}

type fixture struct {
	t    *testing.T
	org  *org.Org
	r    *Router
	sink *recSink
}

func newFixture(t *testing.T) *fixture {
	o, err := org.New(org.Config{OrgID: "00D5e000000SfEmUAQ", UserID: user, Seed: 1,
		Now: func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 250e6, time.UTC) }})
	require.NoError(t, err)
	return &fixture{t: t, org: o, r: New(o, user, false), sink: &recSink{channels: map[string]string{}}}
}

// apply commits operations as one transaction and routes every committed transaction.
func (f *fixture) apply(tag string, ops ...org.Op) []org.OpResult {
	f.t.Helper()
	res, _ := f.org.ApplyTagged("com/salesforce/api/rest/66.0;client=test", tag, false, ops...)
	for _, tx := range f.org.Drain() {
		f.r.Route(tx, f.sink)
	}
	return res
}

func (f *fixture) take() []event {
	out := f.sink.events
	f.sink.events = nil
	return out
}

func header(e event) map[string]any { return e.body["ChangeEventHeader"].(map[string]any) }

func TestChangeEvents(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.r.Select("Account"))
	res := f.apply("", org.Op{Kind: org.OpCreate, Object: "Account", Fields: map[string]any{"Name": "Acme", "NumberOfEmployees": 5.0}},
		org.Op{Kind: org.OpCreate, Object: "Contact", Fields: map[string]any{"LastName": "Doe"}})
	id := res[0].ID
	evs := f.take()
	require.Len(t, evs, 1, "Contact is not selected")
	h := header(evs[0])
	assert.Equal(t, "CREATE", h["changeType"])
	assert.Equal(t, []any{id}, h["recordIds"])
	assert.Equal(t, 1.0, h["sequenceNumber"])
	assert.Equal(t, 1777626000000.0, h["commitTimestamp"], "whole seconds")
	assert.Equal(t, "com/salesforce/api/rest/66.0;client=test", h["changeOrigin"])
	assert.Equal(t, 5.0, evs[0].body["NumberOfEmployees"])
	assert.Equal(t, "2026-05-01T09:00:00.000Z", evs[0].body["CreatedDate"])
	for _, absent := range []string{"Id", "IsDeleted", "SystemModstamp", "Phone"} {
		assert.NotContains(t, evs[0].body, absent)
	}

	f.apply("", org.Op{Kind: org.OpUpdate, ID: id, Fields: map[string]any{"Phone": "1", "NumberOfEmployees": nil}})
	evs = f.take()
	require.Len(t, evs, 1)
	assert.Equal(t, []any{"NumberOfEmployees", "Phone", "LastModifiedDate"}, header(evs[0])["changedFields"])
	assert.Equal(t, map[string]any{"ChangeEventHeader": header(evs[0]), "NumberOfEmployees": nil, "Phone": "1",
		"LastModifiedDate": "2026-05-01T09:00:00.000Z"}, evs[0].body)

	f.apply("", org.Op{Kind: org.OpDelete, ID: id})
	f.apply("", org.Op{Kind: org.OpUndelete, ID: id})
	evs = f.take()
	require.Len(t, evs, 2)
	assert.Equal(t, "DELETE", header(evs[0])["changeType"])
	assert.Len(t, evs[0].body, 1)
	assert.Equal(t, "UNDELETE", header(evs[1])["changeType"])
	assert.Equal(t, "Acme", evs[1].body["Name"])

	f.apply(TagGap, org.Op{Kind: org.OpUpdate, ID: id, Fields: map[string]any{"Phone": "2"}})
	evs = f.take()
	require.Len(t, evs, 1)
	assert.Equal(t, "GAP_UPDATE", header(evs[0])["changeType"])
	assert.Equal(t, "", header(evs[0])["changeOrigin"])
	assert.Equal(t, []any{}, header(evs[0])["changedFields"])
	assert.Len(t, evs[0].body, 1)

	require.NoError(t, f.r.Select("Contact"))
	f.apply(TagOverflow, org.Op{Kind: org.OpUpdate, ID: id, Fields: map[string]any{"Phone": "3"}},
		org.Op{Kind: org.OpCreate, Object: "Account", Fields: map[string]any{"Name": "B"}},
		org.Op{Kind: org.OpCreate, Object: "Contact", Fields: map[string]any{"LastName": "C"}})
	evs = f.take()
	require.Len(t, evs, 2, "one overflow event per entity")
	assert.Equal(t, "Account", evs[0].channel)
	assert.Equal(t, "Contact", evs[1].channel)
	for i, e := range evs {
		assert.Equal(t, "GAP_OVERFLOW", header(e)["changeType"])
		assert.Equal(t, []any{org.EmptyID}, header(e)["recordIds"])
		assert.Equal(t, float64(4+i), header(e)["sequenceNumber"], "after the transaction's changes")
	}
}

func TestPushTopicNotifyForFields(t *testing.T) {
	cases := []struct {
		notify string
		update map[string]any
		fires  bool
	}{
		{"Referenced", map[string]any{"Phone": "1"}, true},            // a SELECT field
		{"Referenced", map[string]any{"Industry": "Utilities"}, true}, // the WHERE field, still matching
		{"Referenced", map[string]any{"Description": "x"}, false},
		{"Select", map[string]any{"Phone": "1"}, true},
		{"Select", map[string]any{"Industry": "Utilities"}, false},
		{"Where", map[string]any{"Industry": "Utilities"}, true},
		{"Where", map[string]any{"Phone": "1"}, false},
		{"All", map[string]any{"Description": "x"}, true},
		{"All", map[string]any{"Industry": "Banking"}, false}, // no longer matches WHERE
	}
	for _, tc := range cases {
		t.Run(tc.notify+fmt.Sprint(tc.update), func(t *testing.T) {
			f := newFixture(t)
			res := f.apply("", org.Op{Kind: org.OpCreate, Object: "PushTopic", Fields: map[string]any{"Name": "T",
				"Query": "SELECT Id, Name, Phone FROM Account WHERE Industry IN ('Energy', 'Utilities')", "ApiVersion": 66.0, "NotifyForFields": tc.notify}})
			require.True(t, res[0].Success, "%+v", res[0].Errors)
			assert.True(t, f.r.HasTopic("T"))
			acct := f.apply("", org.Op{Kind: org.OpCreate, Object: "Account", Fields: map[string]any{"Name": "A", "Industry": "Energy"}})[0].ID
			require.Len(t, f.take(), 1, "the create fires")
			f.apply("", org.Op{Kind: org.OpUpdate, ID: acct, Fields: tc.update})
			evs := f.take()
			if !tc.fires {
				assert.Empty(t, evs)
				return
			}
			require.Len(t, evs, 1)
			assert.Equal(t, org.Updated, evs[0].kind)
			assert.Equal(t, acct, evs[0].body["Id"])
			assert.Contains(t, evs[0].body, "Phone")
		})
	}
}

func TestPushTopicOperationsAndLifecycle(t *testing.T) {
	f := newFixture(t)
	res := f.apply("", org.Op{Kind: org.OpCreate, Object: "PushTopic", Fields: map[string]any{"Name": "T",
		"Query": "SELECT Id, LastName FROM Lead", "ApiVersion": 66.0, "NotifyForOperationCreate": false}})
	require.True(t, res[0].Success, "%+v", res[0].Errors)
	topic := res[0].ID
	lead := f.apply("", org.Op{Kind: org.OpCreate, Object: "Lead", Fields: map[string]any{"LastName": "L", "Company": "C", "Status": "Open - Not Contacted"}})[0].ID
	assert.Empty(t, f.take(), "NotifyForOperationCreate is false")
	f.apply("", org.Op{Kind: org.OpDelete, ID: lead})
	evs := f.take()
	require.Len(t, evs, 1)
	assert.Equal(t, org.Deleted, evs[0].kind)
	assert.Equal(t, map[string]any{"Id": lead}, evs[0].body, "a deleted event carries the Id")

	f.apply("", org.Op{Kind: org.OpUpdate, ID: topic, Fields: map[string]any{"Name": "Renamed"}})
	assert.False(t, f.r.HasTopic("T"))
	assert.True(t, f.r.HasTopic("Renamed"))
	f.apply("", org.Op{Kind: org.OpDelete, ID: topic})
	assert.False(t, f.r.HasTopic("Renamed"))

	ch := f.apply("", org.Op{Kind: org.OpCreate, Object: "StreamingChannel", Fields: map[string]any{"Name": "/u/Alerts"}})[0].ID
	assert.Equal(t, map[string]string{ch: "/u/Alerts"}, f.sink.channels)
	f.apply("", org.Op{Kind: org.OpDelete, ID: ch})
	assert.Empty(t, f.sink.channels)
}

func TestChangeEventObject(t *testing.T) {
	f := newFixture(t)
	for channel, want := range map[string]string{"/data/AccountChangeEvent": "Account", "/data/LeadChangeEvent": "Lead",
		"/data/ChangeEvents": "", "/data/NopeChangeEvent": "", "/data/PushTopicChangeEvent": "", "/data/Foo__chn": ""} {
		obj, ok := f.r.ChangeEventObject(channel)
		if want == "" {
			assert.False(t, ok, channel)
			continue
		}
		require.True(t, ok, channel)
		assert.Equal(t, want, obj.Name)
	}
	assert.Error(t, f.r.Select("PushTopic"))
	assert.Error(t, f.r.Select("Nope"))
}
