package input

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// gapMessage is a gap event as the input delivers it (metadata only
// matters to the resolver; the body is the header-only payload).
func gapMessage(changeType, entity string, commit time.Time, ids ...string) *service.Message {
	m := service.NewMessage([]byte(`{"payload":{"ChangeEventHeader":{}}}`))
	list := make([]any, len(ids))
	for i, id := range ids {
		list[i] = id
	}
	m.MetaSetMut(metaChannel, "/data/"+entity+"ChangeEvent")
	m.MetaSetMut(metaReplayID, 42)
	m.MetaSetMut(metaChangeType, changeType)
	m.MetaSetMut(metaEntityName, entity)
	m.MetaSetMut(metaRecordIDs, list)
	m.MetaSetMut(metaCommitTimestamp, commit.UTC().Format(time.RFC3339))
	return m
}

func resolveAll(t *testing.T, g *gapResolver, batch service.MessageBatch) []service.MessageBatch {
	var out []service.MessageBatch
	require.NoError(t, g.resolve(t.Context(), batch, func(b service.MessageBatch) error {
		out = append(out, b)
		return nil
	}))
	return out
}

// payloadOf is the event payload of a message whose body has shape body.
func payloadOf(t *testing.T, m *service.Message, body bodyShape) map[string]any {
	b, err := m.AsBytes()
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v))
	if body == bodyData {
		p, ok := v["payload"].(map[string]any)
		require.True(t, ok, "a body: data message has a payload object: %s", b)
		return p
	}
	return v
}

func TestGapEventsAreResolvedToCurrentRecords(t *testing.T) {
	for _, body := range []bodyShape{bodyData, bodyPayload} {
		t.Run(string(body), func(t *testing.T) {
			f := startRecordsOrg(t, sfemu.ObjectCount{Object: "Account", Count: 2500})
			resp, err := f.emu.Mutate("Account", 400, "gap")
			require.NoError(t, err)
			cdc := cdcConfig{Gaps: gapFetch, Objects: []snapshotObject{{Name: "Account", Fields: []string{"Name", "Industry", "BillingCity"}}}}
			g := newGapResolver(f.client, body, cdc, service.MockResources())
			live := f.live(t, "Account")
			var batch service.MessageBatch
			plain := service.NewMessage([]byte(`{"payload":{}}`))
			plain.MetaSetMut(metaChangeType, "UPDATE")
			batch = append(batch, plain)
			// Every id the mutation touched as a GAP_UPDATE, three ids in one event once.
			ids := resp.RecordIDs
			require.GreaterOrEqual(t, len(ids), 10)
			batch = append(batch, gapMessage(gapUpdate, "Account", time.Now(), ids[0], ids[1], ids[2]))
			for _, id := range ids[3:] {
				batch = append(batch, gapMessage(gapUpdate, "Account", time.Now(), id))
			}
			var liveID string
			for id := range live {
				liveID = id
				break
			}
			batch = append(batch, gapMessage(gapDelete, "Account", time.Now(), liveID))

			out := resolveAll(t, g, batch)
			require.Len(t, out, 1)
			msgs := out[0]
			assert.Same(t, plain, msgs[0], "a change event passes unchanged")
			msgs = msgs[1:]
			require.Len(t, msgs, len(ids)+1, "one message per record id")
			deletes := 0
			for k, m := range msgs {
				ct, _ := m.MetaGetMut(metaChangeType)
				rids, _ := m.MetaGetMut(metaRecordIDs)
				id := rids.([]any)[0].(string)
				resolved, _ := m.MetaGetMut(metaGapResolved)
				assert.Equal(t, true, resolved)
				replay, _ := m.MetaGetMut(metaReplayID)
				assert.Equal(t, 42, replay, "the event's metadata is kept")
				p := payloadOf(t, m, body)
				header := p["ChangeEventHeader"].(map[string]any)
				assert.Equal(t, ct, header["changeType"])
				if k == len(msgs)-1 {
					assert.Equal(t, gapDelete, ct, "a GAP_DELETE stays a delete")
					assert.NotContains(t, p, "Name")
					continue
				}
				rec, ok := live[id]
				if !ok {
					deletes++
					assert.Equal(t, gapDelete, ct, "a record no longer there becomes a delete")
					continue
				}
				assert.Equal(t, gapUpdate, ct, "a resolved gap keeps its type")
				assert.Equal(t, fieldOf(t, rec, "Name"), p["Name"])
				assertSameValue(t, fieldOf(t, rec, "Industry"), p["Industry"])
				assertSameValue(t, fieldOf(t, rec, "BillingCity"), p["BillingCity"])
			}
			t.Logf("%d of %d gap records were gone", deletes, len(ids))
		})
	}
}

func TestGapOverflowReReadsTheEntity(t *testing.T) {
	f := startRecordsOrg(t, sfemu.ObjectCount{Object: "Account", Count: 3000})
	before := time.Now()
	f.emu.Org().Drain()
	resp, err := f.emu.Mutate("Account", 2500, "overflow")
	require.NoError(t, err)
	cdc := cdcConfig{Gaps: gapFetch, Objects: []snapshotObject{{Name: "Account", Fields: []string{"Name"}}}}
	g := newGapResolver(f.client, bodyPayload, cdc, service.MockResources())
	out := resolveAll(t, g, service.MessageBatch{gapMessage(gapOverflow, "Account", before, "000000000000000AAA")})
	require.Greater(t, len(out), 1, "a batch per query page")
	upserts, deletes := map[string]string{}, map[string]bool{}
	for _, b := range out {
		require.LessOrEqual(t, len(b), 2000)
		for _, m := range b {
			ct, _ := m.MetaGetMut(metaChangeType)
			rids, _ := m.MetaGetMut(metaRecordIDs)
			id := rids.([]any)[0].(string)
			if ct == gapDelete {
				deletes[id] = true
				continue
			}
			assert.Equal(t, gapOverflow, ct)
			upserts[id] = payloadOf(t, m, bodyPayload)["Name"].(string)
		}
	}
	live := f.live(t, "Account")
	for _, id := range resp.RecordIDs {
		if rec, ok := live[id]; ok {
			assert.Equal(t, fieldOf(t, rec, "Name"), upserts[id], "a changed record is read whole")
		} else {
			assert.True(t, deletes[id], "a deleted record is found with queryAll: %s", id)
		}
	}
}

// A gap event whose entity is not an API name never reaches SOQL.
func TestGapEntityMustBeAnAPIName(t *testing.T) {
	g := newGapResolver(nil, bodyData, cdcConfig{Gaps: gapFetch}, nil)
	for _, entity := range []string{"", "Account WHERE Id != null", "Acc'ount"} {
		err := g.resolve(t.Context(), service.MessageBatch{gapMessage(gapOverflow, entity, time.Now(), "000000000000000AAA")},
			func(service.MessageBatch) error { return nil })
		require.Error(t, err, entity)
		assert.Contains(t, err.Error(), "not an object API name")
	}
}

// The stream batch of a resolution is acknowledged once, after every batch
// of the resolution, and nacked when the resolution was cut short.
func TestGapStreamAck(t *testing.T) {
	var calls []error
	g := &gapStream{ack: func(_ context.Context, err error) error { calls = append(calls, err); return nil }}
	a, b := g.part(), g.part()
	g.resolved = true
	require.NoError(t, g.finish(t.Context()))
	require.NoError(t, b(t.Context(), nil))
	assert.Empty(t, calls, "a batch is still out")
	require.NoError(t, a(t.Context(), nil))
	require.NoError(t, a(t.Context(), nil), "a second ack of one batch changes nothing")
	assert.Equal(t, []error{nil}, calls)

	calls = nil
	cut := &gapStream{ack: func(_ context.Context, err error) error { calls = append(calls, err); return nil }}
	require.NoError(t, cut.finish(t.Context()))
	require.Len(t, calls, 1)
	assert.Error(t, calls[0], "cut short: nacked, so it comes again")
}
