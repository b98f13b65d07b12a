package input

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// The Pub/Sub start marker: opaque replay ids do not order, so the marker
// names the first event's id R1 and creation time T1, and a subscription
// resumed from it drops the events created before T1 until R1 comes.

// opaqueEvent is a Pub/Sub event of replay id id created at created (RFC
// 3339; "" for none).
func opaqueEvent(id, created string) stream.Event {
	return stream.Event{Channel: "/event/A__e", Opaque: &stream.OpaqueEvent{ReplayID: []byte(id)}, Meta: stream.Metadata{CreatedDate: created}}
}

// TestStartMarkerSkipRule: which events of a subscription resumed from a
// start marker are dropped, over a sequence of batches read by one client.
func TestStartMarkerSkipRule(t *testing.T) {
	const t1 = "2026-12-06T10:00:00.500Z"
	t1ms := time.Date(2026, 12, 6, 10, 0, 0, 500e6, time.UTC).UnixMilli()
	pubsub := stream.Position{Opaque: "r1", Time: t1ms}
	tests := []struct {
		name    string
		marker  stream.Position
		batches [][]stream.Event
		want    []string // the ids handed on, in order
	}{
		{
			name:   "R1 seen: history before it dropped, R1 and everything after delivered",
			marker: pubsub,
			batches: [][]stream.Event{
				{opaqueEvent("h1", "2026-12-06T09:00:00.000Z"), opaqueEvent("h2", "2026-12-06T10:00:00.499Z")},
				{opaqueEvent("h3", "2026-12-06T10:00:00.100Z"), opaqueEvent("r1", t1), opaqueEvent("e2", "2026-12-06T10:00:00.400Z")},
				{opaqueEvent("e3", "2026-12-06T09:59:00.000Z")},
			},
			want: []string{"r1", "e2", "e3"},
		},
		{
			name:   "R1 expired: every event from T1 on delivered",
			marker: pubsub,
			batches: [][]stream.Event{
				{opaqueEvent("h1", "2026-12-06T09:00:00.000Z"), opaqueEvent("e2", "2026-12-06T10:00:01.000Z")},
				{opaqueEvent("h2", "2026-12-06T10:00:00.499Z"), opaqueEvent("e3", "2026-12-06T10:00:02.000Z")},
			},
			want: []string{"e2", "e3"},
		},
		{
			name:    "the same millisecond as R1 is delivered (at least once)",
			marker:  pubsub,
			batches: [][]stream.Event{{opaqueEvent("h1", "2026-12-06T10:00:00.500Z"), opaqueEvent("h2", "2026-12-06T10:00:00.500999Z"), opaqueEvent("r1", t1)}},
			want:    []string{"h1", "h2", "r1"},
		},
		{
			name:    "an event without a time is never dropped",
			marker:  pubsub,
			batches: [][]stream.Event{{opaqueEvent("n1", ""), opaqueEvent("n2", "not a time"), opaqueEvent("h1", "2026-12-06T09:00:00Z")}},
			want:    []string{"n1", "n2"},
		},
		{
			name:    "a marker without a time drops nothing",
			marker:  stream.Position{Opaque: "r1"},
			batches: [][]stream.Event{{opaqueEvent("h1", "2026-12-06T09:00:00Z"), opaqueEvent("r1", t1)}},
			want:    []string{"h1", "r1"},
		},
		{
			name:   "CometD: below the first replay id dropped",
			marker: stream.Position{Seq: 10},
			batches: [][]stream.Event{
				{{ReplayID: 7, HasReplayID: true}, {ReplayID: 9, HasReplayID: true}, {}},
				{{ReplayID: 10, HasReplayID: true}, {ReplayID: 12, HasReplayID: true}},
			},
			want: []string{"-", "10", "12"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, t.TempDir(), "http://127.0.0.1:1", "channels: [ /event/A__e ]\napi: pubsub\nlease: { enabled: false }\n")
			require.NoError(t, h.in.cp.StoreStart(t.Context(), "/event/A__e", tt.marker))
			client := &struct{ stream.Source }{}
			var got []string
			released := 0
			for _, events := range tt.batches {
				b := h.in.dropBeforeStart(client, stream.Batch{Channel: "/event/A__e", Events: events, OnRelease: func(n int) { released += n }})
				for _, e := range b.Events {
					got = append(got, eventName(e))
				}
			}
			assert.Equal(t, tt.want, got)
			total := 0
			for _, events := range tt.batches {
				total += len(events)
			}
			assert.Equal(t, total-len(got), released, "the source is released of every dropped event")
		})
	}
}

func eventName(e stream.Event) string {
	switch {
	case e.Opaque != nil:
		return string(e.Opaque.ReplayID)
	case e.HasReplayID:
		return fmt.Sprint(e.ReplayID)
	}
	return "-"
}

// TestStartMarkerSkipEnds: a replay-id fallback (a new epoch), the first
// acknowledgement and a new subscription each change what the marker's skip
// does: the first two end it, a new client (resubscribed from the earliest
// event again) starts it over.
func TestStartMarkerSkipEnds(t *testing.T) {
	const ch = "/event/A__e"
	marker := stream.Position{Opaque: "r1", Time: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC).UnixMilli()}
	history := func() stream.Batch {
		return stream.Batch{Channel: ch, Events: []stream.Event{opaqueEvent("h1", "2026-12-06T09:00:00Z")}}
	}
	start := func(t *testing.T) *testHarness {
		h := newHarness(t, t.TempDir(), "http://127.0.0.1:1", "channels: [ "+ch+" ]\napi: pubsub\nlease: { enabled: false }\n")
		require.NoError(t, h.in.cp.StoreStart(t.Context(), ch, marker))
		return h
	}
	client := &struct{ stream.Source }{}

	t.Run("fallback", func(t *testing.T) {
		h := start(t)
		require.Empty(t, h.in.dropBeforeStart(client, history()).Events)
		h.in.cp.NewEpoch(ch)
		assert.Len(t, h.in.dropBeforeStart(client, history()).Events, 1, "the new epoch's ids are no history of the marker")
	})
	t.Run("first acknowledgement", func(t *testing.T) {
		h := start(t)
		resolve, err := h.in.cp.Track(t.Context(), ch, stream.Position{Opaque: "r1"}, true, 1)
		require.NoError(t, err)
		resolve()
		assert.Len(t, h.in.dropBeforeStart(client, history()).Events, 1)
		pos, _, err := h.in.cp.Resume(t.Context(), ch)
		require.NoError(t, err)
		assert.False(t, pos.Start, "a position replaced the marker")
	})
	t.Run("the session that wrote the marker skips nothing", func(t *testing.T) {
		h := newHarness(t, t.TempDir(), "http://127.0.0.1:1", "channels: [ "+ch+" ]\napi: pubsub\nlease: { enabled: false }\n")
		first := stream.Batch{Channel: ch, Events: []stream.Event{opaqueEvent("r1", "2026-12-06T10:00:00Z")}}
		require.True(t, h.in.storeStart(t.Context(), t.Context(), client, first))
		stored, ok := h.in.cp.StartMarker(ch)
		require.True(t, ok, "the marker is stored")
		require.Equal(t, "r1", stored.Opaque)
		// A later event of the same subscription whose time reads earlier than
		// R1's (commit times need not follow replay order) is no history.
		assert.Len(t, h.in.dropBeforeStart(client, history()).Events, 1, "nothing of the writing session is dropped")
	})
	t.Run("a new subscription skips again", func(t *testing.T) {
		h := start(t)
		r1 := stream.Batch{Channel: ch, Events: []stream.Event{opaqueEvent("r1", "2026-12-06T10:00:00Z")}}
		require.Len(t, h.in.dropBeforeStart(client, r1).Events, 1)
		assert.Len(t, h.in.dropBeforeStart(client, history()).Events, 1, "past R1 nothing is skipped")
		assert.Empty(t, h.in.dropBeforeStart(&struct{ stream.Source }{}, history()).Events, "a new client starts from the earliest event again")
	})
}

// readPubSub reads batches until n events arrived, acking each when ack is
// true, and returns the emulator's replay ids and the creation times.
func readPubSub(t *testing.T, h *testHarness, n int, ack bool) (ids []int64, created []string) {
	t.Helper()
	for len(ids) < n {
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		batch, ackFn, err := h.in.ReadBatch(ctx)
		cancel()
		require.NoError(t, err, "after %d of %d events", len(ids), n)
		for _, msg := range batch {
			v, ok := msg.MetaGet(metaReplayID)
			require.True(t, ok)
			raw, err := base64.StdEncoding.DecodeString(v)
			require.NoError(t, err)
			require.Len(t, raw, 8)
			ids = append(ids, int64(binary.BigEndian.Uint64(raw)))
			c, _ := msg.MetaGet(metaCreatedDate)
			created = append(created, c)
		}
		if ack {
			require.NoError(t, ackFn(t.Context(), nil))
		}
	}
	return ids, created
}

// TestPubSubStartMarkerSurvivesACrash: a channel first subscribed at latest
// over the Pub/Sub API stores, before its first batch is handed out, a start
// marker naming that batch's first event and its creation time; while the
// store fails the batch is held. Killed before any acknowledgement, the
// restart delivers every event since the first subscription and none of the
// history before it, and the first acknowledgements replace the marker.
func TestPubSubStartMarkerSurvivesACrash(t *testing.T) {
	const ch = "/event/A__e"
	subscribed := make(chan struct{}, 4)
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{MaxBatch: 50, MaxReplayGap: -1, Logf: func(format string, _ ...any) {
		if strings.HasPrefix(format, "pubsub: subscribe ") {
			select {
			case subscribed <- struct{}{}:
			default:
			}
		}
	}})
	_, _, err := emu.PublishN(ch, 5) // history, before the first subscription
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond) // the live events are created in a later millisecond
	dir := t.TempDir()
	fields := fmt.Sprintf("channels: [ %s ]\napi: pubsub\npubsub_endpoint: %s\nreplay_preset: latest\nlease: { enabled: false }\n", ch, addr)
	key := checkpointfmt.PubSub.Key(defaultCheckpointKey, ch)

	first := newHarness(t, dir, url, fields)
	require.NoError(t, first.in.Connect(t.Context()))
	select { // from latest: only what is published once the subscription reached the server is due
	case <-subscribed:
	case <-time.After(waitTimeout):
		t.Fatal("no Pub/Sub subscription reached the emulator")
	}
	require.NoError(t, os.RemoveAll(dir)) // the file cache's directory vanishes
	liveFirst, liveLast, err := emu.PublishN(ch, 3)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	batch, _, err := first.in.ReadBatch(ctx)
	cancel()
	assert.Empty(t, batch, "nothing handed out before the start is stored")
	assert.Error(t, err)
	assert.Positive(t, first.metrics.get(metricCheckpointErrors, ch))

	require.NoError(t, os.MkdirAll(dir, 0o755))
	live, created := readPubSub(t, first, 3, false)
	require.Equal(t, []int64{liveFirst, liveLast}, []int64{live[0], live[2]}, "the held batch, whole")
	t1, err := time.Parse(time.RFC3339Nano, created[0])
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, key))
	require.NoError(t, err)
	want := fmt.Sprintf("start:%s;%d@0", base64.StdEncoding.EncodeToString(sfemuReplayID(live[0])), t1.UnixMilli())
	assert.Equal(t, want, string(raw), "the start marker, stored before the batch was handed out")
	require.NoError(t, first.in.Close(context.Background())) // killed: nothing was acked

	_, moreLast, err := emu.PublishN(ch, 4) // while it is down
	require.NoError(t, err)
	second := newHarness(t, dir, url, fields)
	require.NoError(t, second.in.Connect(t.Context()))
	got, _ := readPubSub(t, second, 7, true)
	wantIDs := append(append([]int64{}, live...), moreLast-3, moreLast-2, moreLast-1, moreLast)
	assert.Equal(t, wantIDs, got, "every event since the first subscription, none before it")
	assert.Zero(t, second.metrics.get(metricReplayFallbacks, ch), "the marker is never refused")
	require.NoError(t, second.in.Close(context.Background()))
	pos, ok := storedPubSub(t, dir, ch)
	require.True(t, ok)
	assert.Equal(t, checkpointfmt.Position{ReplayID: sfemuReplayID(moreLast)}, pos, "the first acks replace the marker with a position")
}
