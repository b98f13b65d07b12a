package input

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// mirror is what a destination that applies the input's messages holds:
// one row per record, the tracked fields and the generation that wrote it.
type mirror struct {
	fields []string
	rows   map[string]map[string]any
	gen    map[string]int64
}

func newMirror(fields ...string) *mirror {
	return &mirror{fields: fields, rows: map[string]map[string]any{}, gen: map[string]int64{}}
}

// cdcShapes are the APIs and body shapes the CDC tests run under: a record's
// message has the shape of the change events around it, so body: payload
// gives the same bodies over CometD as over Pub/Sub.
var cdcShapes = []cdcShape{{apiStreaming, bodyData}, {apiStreaming, bodyPayload}, {apiPubSub, bodyPayload}}

type cdcShape struct {
	api  apiKind
	body bodyShape
}

func (c cdcShape) name() string { return string(c.api) + "/" + string(c.body) }

// apply applies one message as docs/cdc.md tells a mirror to.
func (m *mirror) apply(t *testing.T, msg *service.Message, body bodyShape) {
	t.Helper()
	p := payloadOf(t, msg, body)
	header, _ := p["ChangeEventHeader"].(map[string]any)
	ct, _ := msg.MetaGetMut(metaChangeType)
	generation := int64(0)
	if g, ok := msg.MetaGetMut(metaSnapshotGeneration); ok {
		generation = g.(int64)
	}
	if ct == changeSnapshotEnd {
		for id, g := range m.gen {
			if g < generation {
				delete(m.rows, id)
				delete(m.gen, id)
			}
		}
		return
	}
	resolved, _ := msg.MetaGetMut(metaGapResolved)
	ids, _ := header["recordIds"].([]any)
	for _, v := range ids {
		id := v.(string)
		switch {
		case ct == "DELETE" || ct == gapDelete:
			delete(m.rows, id)
			delete(m.gen, id)
		case ct == gapCreate || ct == gapUpdate || ct == gapUndelete || ct == gapOverflow:
			if resolved != true {
				t.Fatalf("an unresolved %s reached the mirror", ct)
			}
			fallthrough
		default:
			row := m.rows[id]
			if row == nil {
				row = map[string]any{}
				m.rows[id] = row
			}
			for _, f := range m.fields {
				if v, ok := p[f]; ok {
					row[f] = v
				}
			}
			if generation > 0 || m.gen[id] == 0 {
				m.gen[id] = max(generation, m.gen[id])
			}
		}
	}
}

// equalsOrg reports the first difference between the mirror and the org's live Accounts, "" when none.
func (m *mirror) diff(t *testing.T, f *orgFixture) string {
	live := f.live(t, "Account")
	if len(live) != len(m.rows) {
		return fmt.Sprintf("%d rows for %d live records", len(m.rows), len(live))
	}
	for id, rec := range live {
		row, ok := m.rows[id]
		if !ok {
			return "missing " + id
		}
		for _, fld := range m.fields {
			want := fieldOf(t, rec, fld)
			got, _ := row[fld].(string)
			if want != got {
				return fmt.Sprintf("%s.%s = %q, org has %q", id, fld, got, want)
			}
		}
	}
	return ""
}

// consumeTimeout bounds a convergence wait: it takes a few seconds.
var consumeTimeout = 60 * time.Second

// consume reads batches until stop says so, applying and acknowledging
// each; ErrNotConnected makes it Connect, as the framework does.
func consume(t *testing.T, in *ssiInput, body bodyShape, m *mirror, stop func(n int) bool) int {
	t.Helper()
	n := 0
	deadline := time.Now().Add(consumeTimeout)
	for !stop(n) {
		require.True(t, time.Now().Before(deadline), "bounded: the mirror did not converge after %d batches", n)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		batch, ack, err := in.ReadBatch(ctx)
		cancel()
		switch {
		case errors.Is(err, service.ErrNotConnected):
			cerr := in.Connect(t.Context())
			var boff *service.ErrBackOff
			if errors.As(cerr, &boff) {
				time.Sleep(boff.Wait)
				continue
			}
			require.NoError(t, cerr)
			continue
		case errors.Is(err, context.DeadlineExceeded):
			continue
		}
		require.NoError(t, err)
		for _, msg := range batch {
			m.apply(t, msg, body)
		}
		n++
		require.NoError(t, ack(t.Context(), nil))
	}
	return n
}

// The input loads the org's records, then streams from no later than the
// snapshot's start, resolves gap and overflow events, and a restart in the
// middle of the snapshot resumes it: the mirror ends equal to the org.
func TestSnapshotThenStreamConverges(t *testing.T) {
	for _, tc := range cdcShapes {
		api, body := tc.api, tc.body
		t.Run(tc.name(), func(t *testing.T) {
			cfg := sfemu.Config{MaxBatch: 200}
			cfg.Records = []sfemu.ObjectCount{{Object: "Account", Count: 5000}}
			var emu *sfemu.Server
			var url, extra string
			if api == apiPubSub {
				var addr string
				emu, url, addr = startPubSubEmulator(t, cfg)
				extra = fmt.Sprintf("api: pubsub\npubsub_endpoint: %s\n", addr)
			} else {
				emu, url = startEmulator(t, cfg)
				extra = fmt.Sprintf("body: %s\n", body)
			}
			f := startRecordsOrgOn(t, emu, url)
			fields := extra + `channels: [ /data/AccountChangeEvent ]
snapshot: { mode: initial, method: rest, objects: { Account: [ Name, Industry, BillingCity ] } }
gap_events: fetch
`
			dir := t.TempDir()
			m := newMirror("Name", "Industry", "BillingCity")

			// First run: one page, then changes while it snapshots, then a crash.
			h := newHarness(t, dir, url, fields)
			require.NoError(t, h.in.Connect(t.Context()))
			consume(t, h.in, body, m, func(n int) bool { return n == 1 })
			_, err := emu.Mutate("Account", 300, "")
			require.NoError(t, err)
			require.NoError(t, h.in.Close(t.Context()))
			stored, found, err := checkpointfmt.ReadSnapshot(t.Context(), cacheStore{res: h.res, cache: "replay_ids"}.get, defaultCheckpointKey)
			require.NoError(t, err)
			require.True(t, found)
			assert.False(t, stored.Complete)
			assert.EqualValues(t, 2000, stored.Objects[0].Done, "the acknowledged page is stored")

			// Second run resumes, streams, and resolves gaps and an overflow.
			h2 := newHarness(t, dir, url, fields)
			require.NoError(t, h2.in.Connect(t.Context()))
			consume(t, h2.in, body, m, func(int) bool { return m.diff(t, f) == "" })
			_, err = emu.Mutate("Account", 200, "gap")
			require.NoError(t, err)
			_, err = emu.Mutate("Account", 300, "overflow")
			require.NoError(t, err)
			_, err = emu.Mutate("Account", 100, "")
			require.NoError(t, err)
			consume(t, h2.in, body, m, func(int) bool { return m.diff(t, f) == "" })
			assert.Empty(t, m.diff(t, f))
			assert.Positive(t, h2.metrics.get(metricGapFetches, gapUpdate)+h2.metrics.get(metricGapFetches, gapCreate))
			assert.Positive(t, h2.metrics.get(metricAPICalls, "retrieve"))
			assert.EqualValues(t, 5000, h2.metrics.get(metricSnapshotTotal, "Account"))
		})
	}
}

// startRecordsOrgOn is startRecordsOrg on an emulator already served at url.
func startRecordsOrgOn(_ *testing.T, emu *sfemu.Server, _ string) *orgFixture {
	return &orgFixture{emu: emu}
}

// Downtime past retention: the stored replay id is refused, and
// on_invalid_replay_id: resync snapshots again before streaming on; records
// deleted while the input was down leave the mirror through the snapshot
// generation's end marker.
func TestResyncPastRetentionConverges(t *testing.T) {
	for _, tc := range cdcShapes {
		api, body := tc.api, tc.body
		t.Run(tc.name(), func(t *testing.T) {
			cfg := sfemu.Config{MaxBatch: 200}
			cfg.Records = []sfemu.ObjectCount{{Object: "Account", Count: 3000}}
			var emu *sfemu.Server
			var url, extra string
			if api == apiPubSub {
				var addr string
				emu, url, addr = startPubSubEmulator(t, cfg)
				extra = fmt.Sprintf("api: pubsub\npubsub_endpoint: %s\n", addr)
			} else {
				emu, url = startEmulator(t, cfg)
				extra = fmt.Sprintf("body: %s\n", body)
			}
			f := &orgFixture{emu: emu}
			fields := extra + `channels: [ /data/AccountChangeEvent ]
snapshot: { mode: initial, objects: { Account: [ Name, Industry, BillingCity ] } }
gap_events: fetch
on_invalid_replay_id: resync
`
			dir := t.TempDir()
			m := newMirror("Name", "Industry", "BillingCity")
			h := newHarness(t, dir, url, fields)
			require.NoError(t, h.in.Connect(t.Context()))
			consume(t, h.in, body, m, func(int) bool { return m.diff(t, f) == "" })
			_, err := emu.Mutate("Account", 200, "")
			require.NoError(t, err)
			consume(t, h.in, body, m, func(int) bool { return m.diff(t, f) == "" })
			require.NoError(t, h.in.Close(t.Context()))

			// Down: records change, then every event falls out of retention.
			resp, err := emu.Mutate("Account", 600, "")
			require.NoError(t, err)
			require.Positive(t, resp.Changes["DELETE"], "deletes while down")
			_, err = emu.Purge("/data/AccountChangeEvent", nil)
			require.NoError(t, err)
			assert.NotEmpty(t, m.diff(t, f), "the mirror is behind")

			h2 := newHarness(t, dir, url, fields)
			require.NoError(t, h2.in.Connect(t.Context()))
			consume(t, h2.in, body, m, func(int) bool { return m.diff(t, f) == "" })
			assert.Empty(t, m.diff(t, f))
			stored, _, err := checkpointfmt.ReadSnapshot(t.Context(), cacheStore{res: h2.res, cache: "replay_ids"}.get, defaultCheckpointKey)
			require.NoError(t, err)
			assert.EqualValues(t, 2, stored.Generation)
			assert.Equal(t, onInvalidResync, stored.Reason)
			assert.True(t, stored.Complete)

			// The stream goes on after the resync.
			_, err = emu.Mutate("Account", 100, "")
			require.NoError(t, err)
			consume(t, h2.in, body, m, func(int) bool { return m.diff(t, f) == "" })
		})
	}
}

// Whether a snapshot runs at start: by mode, stored progress and channel checkpoints.
func TestSnapshotDecision(t *testing.T) {
	complete := checkpointfmt.SnapshotState{Seq: 3, Generation: 2, Reason: "initial", Complete: true}
	partial := checkpointfmt.SnapshotState{Seq: 2, Generation: 2, Reason: "initial"}
	tests := []struct {
		name       string
		mode       snapshotMode
		stored     *checkpointfmt.SnapshotState
		checkpoint bool
		due        bool
		generation int64
	}{
		{"initial, first start", snapshotInitial, nil, false, true, 1},
		{"initial, channels already checkpointed", snapshotInitial, nil, true, false, 0},
		{"initial, done before", snapshotInitial, &complete, false, false, 2},
		{"initial, interrupted", snapshotInitial, &partial, true, true, 2},
		{"always, done before", snapshotAlways, &complete, true, true, 3},
		{"always, interrupted", snapshotAlways, &partial, true, true, 2},
		{"never, interrupted resync resumes", snapshotNever, &partial, true, true, 2},
		{"never, nothing stored", snapshotNever, nil, false, false, 0},
		{"interrupted, an object no longer configured is dropped", snapshotInitial, &checkpointfmt.SnapshotState{Seq: 1, Generation: 1,
			Objects: []checkpointfmt.ObjectProgress{{Object: "Lead", LastID: "00Q"}, {Object: "Account", LastID: "001x", Done: 5}}}, false, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := service.MockResources(service.MockResourcesOptAddCache("replay_ids"))
			store := cacheStore{res: res, cache: "replay_ids", prefix: "k"}
			r := &cdcRuntime{conf: cdcConfig{Mode: tc.mode, Objects: []snapshotObject{{Name: "Account"}}}, store: store, res: res}
			if tc.stored != nil {
				require.NoError(t, r.writeState(t.Context(), *tc.stored))
			}
			state, due, err := r.decide(t.Context(), func(context.Context) (bool, error) { return tc.checkpoint, nil })
			require.NoError(t, err)
			assert.Equal(t, tc.due, due)
			if tc.generation > 0 {
				assert.Equal(t, tc.generation, state.Generation)
			}
			if due {
				require.Len(t, state.Objects, 1, "the configured objects only")
				assert.Equal(t, "Account", state.Objects[0].Object)
			}
		})
	}
}
