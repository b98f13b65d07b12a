package input

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// orgFixture is an in-process sfemu with records and an org API client on it.
type orgFixture struct {
	emu    *sfemu.Server
	client *orgapi.Client
}

func startRecordsOrg(t *testing.T, records ...sfemu.ObjectCount) *orgFixture {
	t.Helper()
	cfg := sfemu.DefaultConfig()
	cfg.Records = records
	emu := sfemu.New(cfg)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	src, err := sfauth.NewSource(sfauth.Config{OrgURL: srv.URL, GrantType: sfauth.GrantClientCredentials,
		ClientID: sfemu.DefaultClientID, ClientSecret: sfemu.DefaultClientSecret, HTTPClient: srv.Client()})
	require.NoError(t, err)
	return &orgFixture{emu: emu, client: orgapi.New(src, srv.Client(), "64.0", nil,
		orgapi.WithBackoff(stream.BackoffConfig{Initial: time.Millisecond, Max: time.Millisecond, Long: time.Millisecond}))}
}

// live answers the org's live records of object by id, field values as the org keeps them.
func (f *orgFixture) live(t *testing.T, object string) map[string]org.Record {
	obj, ok := f.emu.Org().Object(object)
	require.True(t, ok)
	out := map[string]org.Record{}
	for _, r := range f.emu.Org().Records(obj) {
		if !r.Deleted() {
			out[r.ID()] = r
		}
	}
	return out
}

// memStore is a snapshot state store in memory that can be made to fail.
type memStore struct {
	mu     sync.Mutex
	state  checkpointfmt.SnapshotState
	writes int
}

func (s *memStore) store(_ context.Context, st checkpointfmt.SnapshotState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
	s.writes++
	return nil
}

func (s *memStore) get() checkpointfmt.SnapshotState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

var errStopHere = errors.New("stop here")

// runSnapshot reads a snapshot from start, acknowledging each page unless
// ackUpTo says to stop acknowledging after that many pages, and stopping
// after stopAfter pages (0: never). It answers the messages received.
func runSnapshot(t *testing.T, f *orgFixture, body bodyShape, method snapshotMethod, objects []snapshotObject, start checkpointfmt.SnapshotState, st *memStore, stopAfter int) ([]*service.Message, error) {
	t.Helper()
	prog := newSnapshotProgress(start, st.store, service.MockResources())
	r := &snapshotReader{org: f.client, body: body, method: method, objects: objects, gen: start.Generation, pageRecords: 1500, progress: prog}
	var got []*service.Message
	pages := 0
	err := r.run(t.Context(), start, func(ctx context.Context, p snapshotPage) error {
		ack := prog.sent(p)
		got = append(got, p.msgs...)
		require.NoError(t, ack(ctx, nil))
		pages++
		if stopAfter > 0 && pages == stopAfter {
			return errStopHere
		}
		return nil
	})
	return got, err
}

// snapshotRecords reads the record messages: id to payload.
func snapshotRecords(t *testing.T, msgs []*service.Message, body bodyShape) (map[string]map[string]any, int) {
	out := map[string]map[string]any{}
	ends := 0
	for _, m := range msgs {
		ct, _ := m.MetaGetMut(metaChangeType)
		payload := payloadOf(t, m, body)
		header := payload["ChangeEventHeader"].(map[string]any)
		assert.Equal(t, ct, header["changeType"])
		if ct == changeSnapshotEnd {
			ends++
			continue
		}
		require.Equal(t, changeSnapshot, ct)
		ids, _ := m.MetaGetMut(metaRecordIDs)
		id := ids.([]any)[0].(string)
		assert.Equal(t, []any{id}, header["recordIds"])
		gen, _ := m.MetaGetMut(metaSnapshotGeneration)
		assert.NotNil(t, gen)
		out[id] = payload
	}
	return out, ends
}

func TestSnapshotReadsEveryRecordWithItsFields(t *testing.T) {
	f := startRecordsOrg(t, sfemu.ObjectCount{Object: "Account", Count: 3100}, sfemu.ObjectCount{Object: "Contact", Count: 700})
	objects := []snapshotObject{{Name: "Account", Fields: []string{"Name", "Industry", "BillingCity", "AnnualRevenue", "LastModifiedDate"}}, {Name: "Contact"}}
	for _, tc := range []struct {
		body   bodyShape
		method snapshotMethod
	}{{bodyData, methodREST}, {bodyPayload, methodBulk}, {bodyData, methodAuto}} {
		t.Run(string(tc.body)+"/"+string(tc.method), func(t *testing.T) {
			st := &memStore{}
			start := checkpointfmt.SnapshotState{Generation: 3}
			msgs, err := runSnapshot(t, f, tc.body, tc.method, objects, start, st, 0)
			require.NoError(t, err)
			got, ends := snapshotRecords(t, msgs, tc.body)
			assert.Equal(t, 2, ends, "one end marker per object")
			accounts, contacts := f.live(t, "Account"), f.live(t, "Contact")
			require.Len(t, got, len(accounts)+len(contacts))
			for id, rec := range accounts {
				p := got[id]
				require.NotNil(t, p, id)
				assert.Equal(t, fieldOf(t, rec, "Name"), p["Name"])
				assertSameValue(t, fieldOf(t, rec, "Industry"), p["Industry"])
				assertSameValue(t, fieldOf(t, rec, "BillingCity"), p["BillingCity"])
				assertSameValue(t, fieldOf(t, rec, "AnnualRevenue"), p["AnnualRevenue"])
				assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$`, p["LastModifiedDate"], "date-times as change events write them")
				assert.NotContains(t, p, "Phone", "only the configured fields")
			}
			for id, rec := range contacts {
				p := got[id]
				require.NotNil(t, p, id)
				assertSameValue(t, fieldOf(t, rec, "LastName"), p["LastName"])
				assert.Contains(t, p, "Email", "an object without fields gets every field")
			}
			final := st.get()
			assert.True(t, final.Complete)
			for _, o := range final.Objects {
				assert.True(t, o.Complete, o.Object)
				assert.Equal(t, o.Total, o.Done, o.Object)
			}
		})
	}
}

// assertSameValue compares an org value (text, "" for null) with a payload value.
func assertSameValue(t *testing.T, want string, got any) {
	t.Helper()
	if want == "" {
		assert.Nil(t, got)
		return
	}
	switch v := got.(type) {
	case string:
		assert.Equal(t, want, v)
	case float64:
		assert.InDelta(t, mustFloat(t, want), v, 1e-6)
	default:
		assert.Failf(t, "unexpected value", "%T %v for %q", got, got, want)
	}
}

func mustFloat(t *testing.T, s string) float64 {
	var f float64
	require.NoError(t, json.Unmarshal([]byte(s), &f))
	return f
}

// A snapshot stopped mid-way resumes after the last acknowledged page and
// does not start over; with REST and with Bulk API 2.0.
func TestSnapshotResumesAfterTheLastAcknowledgedPage(t *testing.T) {
	for _, method := range []snapshotMethod{methodREST, methodBulk} {
		t.Run(string(method), func(t *testing.T) {
			f := startRecordsOrg(t, sfemu.ObjectCount{Object: "Account", Count: 7000})
			objects := []snapshotObject{{Name: "Account", Fields: []string{"Name"}}}
			st := &memStore{}
			first, err := runSnapshot(t, f, bodyData, method, objects, checkpointfmt.SnapshotState{Generation: 1}, st, 2)
			require.ErrorIs(t, err, errStopHere)
			stopped := st.get()
			require.Len(t, stopped.Objects, 1)
			assert.False(t, stopped.Complete)
			assert.EqualValues(t, len(first), stopped.Objects[0].Done)

			second, err := runSnapshot(t, f, bodyData, method, objects, stopped, st, 0)
			require.NoError(t, err)
			a, _ := snapshotRecords(t, first, bodyData)
			b, ends := snapshotRecords(t, second, bodyData)
			assert.Equal(t, 1, ends)
			for id := range a {
				assert.NotContains(t, b, id, "a record of an acknowledged page is not read again")
			}
			assert.Len(t, a, len(first))
			assert.Equal(t, 7000, len(a)+len(b), "every record, once")
			assert.True(t, st.get().Complete)
		})
	}
}

// A Bulk job that Salesforce no longer has starts the object over.
func TestSnapshotBulkJobGoneStartsOver(t *testing.T) {
	f := startRecordsOrg(t, sfemu.ObjectCount{Object: "Account", Count: 2000})
	objects := []snapshotObject{{Name: "Account", Fields: []string{"Name"}}}
	st := &memStore{}
	_, err := runSnapshot(t, f, bodyPayload, methodBulk, objects, checkpointfmt.SnapshotState{Generation: 1}, st, 1)
	require.ErrorIs(t, err, errStopHere)
	stopped := st.get()
	require.NotEmpty(t, stopped.Objects[0].Job)
	require.NoError(t, f.client.DeleteQueryJob(t.Context(), stopped.Objects[0].Job))
	msgs, err := runSnapshot(t, f, bodyPayload, methodBulk, objects, stopped, st, 0)
	require.NoError(t, err)
	got, _ := snapshotRecords(t, msgs, bodyPayload)
	assert.Len(t, got, 2000)
}

// The stored progress never passes a page that is not acknowledged.
func TestSnapshotProgressWaitsForEarlierPages(t *testing.T) {
	st := &memStore{}
	p := newSnapshotProgress(checkpointfmt.SnapshotState{Generation: 1, Objects: []checkpointfmt.ObjectProgress{{Object: "Account"}}}, st.store, nil)
	page := func(last string, done int64, complete bool) snapshotPage {
		return snapshotPage{msgs: service.MessageBatch{service.NewMessage(nil)},
			after: checkpointfmt.ObjectProgress{Object: "Account", Method: "rest", LastID: last, Done: done, Complete: complete}}
	}
	ack1, ack2, ack3 := p.sent(page("a", 1, false)), p.sent(page("b", 2, false)), p.sent(page("c", 3, true))
	require.NoError(t, ack3(t.Context(), nil))
	require.NoError(t, ack2(t.Context(), nil))
	assert.Equal(t, 0, st.writes, "page 1 is still out")
	require.NoError(t, ack1(t.Context(), nil))
	assert.Equal(t, 1, st.writes)
	got := st.get()
	assert.Equal(t, "c", got.Objects[0].LastID)
	assert.True(t, got.Complete)
	assert.EqualValues(t, 1, got.Seq)
}

func TestSnapshotProgressLines(t *testing.T) {
	p := newSnapshotProgress(checkpointfmt.SnapshotState{Generation: 1}, (&memStore{}).store, nil)
	p.begin("Account", checkpointfmt.ObjectProgress{Object: "Account", Done: 1000, Total: 21000})
	p.stats["Account"].started = time.Now().Add(-10 * time.Second)
	p.sent(snapshotPage{msgs: make(service.MessageBatch, 0), after: checkpointfmt.ObjectProgress{Object: "Account"}})
	p.stats["Account"].sent = 11000
	lines := p.lines(time.Now())
	require.Len(t, lines, 1)
	assert.Regexp(t, `^snapshot of Account: 11000 of 21000 records \(52%\), (99\d|1000) records/s, about 1\ds left$`, lines[0])
}

// fieldOf is a record's value of field ("" for null).
func fieldOf(t *testing.T, rec org.Record, field string) string {
	_, i, ok := rec.Object.Field(field)
	require.True(t, ok, field)
	return rec.Values[i]
}
