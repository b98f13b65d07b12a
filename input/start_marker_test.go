package input

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestStartMarkerResumesFromEarliest: a channel first subscribed at latest
// and killed before its first ack stores a start marker, not the id before
// its first event (with gaps between replay ids that is no event, which
// Salesforce refuses: under on_invalid_replay_id latest the events since
// would be lost, under fail the channel would be stuck). The restart
// subscribes from the earliest event, skips the history before the first
// subscription and delivers every event since, once.
func TestStartMarkerResumesFromEarliest(t *testing.T) {
	const ch = "/event/A__e"
	for _, policy := range []string{"latest", "fail", "earliest"} {
		t.Run(policy, func(t *testing.T) {
			emu, url := startEmulator(t, sfemu.Config{MaxBatch: 50, MaxReplayGap: 3})
			ctl := harness.NewClient(url)
			history := publishIDs(t, emu, ch, 5) // before the first subscription
			fields := "channels: [ " + ch + " ]\nreplay_preset: latest\non_invalid_replay_id: " + policy + "\nlease: { enabled: false }\n"
			dir := t.TempDir()

			first := newHarness(t, dir, url, fields)
			require.NoError(t, first.in.Connect(t.Context()))
			// A gap of 5: the id before the first live event is no event.
			live, err := ctl.PublishIDs(t.Context(), ch, 3, 5)
			require.NoError(t, err)
			require.Greater(t, live[0]-1, history[1])
			assert.Equal(t, live, first.readN(t, len(live), false), "handed out, never acknowledged")
			require.NoError(t, first.in.Close(context.Background())) // killed: nothing was acked

			key := checkpointfmt.CheckpointKey(defaultCheckpointKey, ch)
			raw, err := os.ReadFile(filepath.Join(dir, key))
			require.NoError(t, err)
			assert.Equal(t, "start:"+strconv.FormatInt(live[0], 10), string(raw), "a start marker, no invented replay id")

			more, err := ctl.PublishIDs(t.Context(), ch, 2, 4) // while it is down
			require.NoError(t, err)

			second := newHarness(t, dir, url, fields)
			require.NoError(t, second.in.Connect(t.Context()))
			want := append(append([]int64{}, live...), more...)
			assert.Equal(t, want, second.readN(t, len(want), true), "every event since the first subscription, none before it")
			assert.Zero(t, second.metrics.get(metricReplayFallbacks, ch), "the marker is never refused")
			require.NoError(t, second.in.Close(context.Background()))
			assert.Equal(t, more[1], storedID(t, dir, key), "the first acks replace the marker with a position")
		})
	}
}

// TestSkipBelowEnds: the skip of a start marker ends with the first
// acknowledgement and with a replay-id fallback, whose ids may restart lower.
func TestSkipBelowEnds(t *testing.T) {
	c := newCheckpointer(newFakeStore(), 100, service.MockResources().Logger(), nil)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	_, ok := c.SkipBelow("/u/A")
	assert.False(t, ok, "no position: nothing to skip")

	require.NoError(t, c.StoreStart(t.Context(), "/u/A", 7556))
	below, ok := c.SkipBelow("/u/A")
	require.True(t, ok)
	assert.Equal(t, int64(7556), below)
	require.NoError(t, c.StoreStart(t.Context(), "/u/A", 9000), "a no-op once a marker is stored")
	below, _ = c.SkipBelow("/u/A")
	assert.Equal(t, int64(7556), below)

	c.NewEpoch("/u/A")
	_, ok = c.SkipBelow("/u/A")
	assert.False(t, ok, "after a fallback")

	require.NoError(t, c.StoreStart(t.Context(), "/u/B", 40))
	resolve, err := c.Track(t.Context(), "/u/B", stream.Position{Seq: 44}, true, 2)
	require.NoError(t, err)
	resolve()
	_, ok = c.SkipBelow("/u/B")
	assert.False(t, ok, "after the first acknowledgement")
	pos, _, err := c.Resume(t.Context(), "/u/B")
	require.NoError(t, err)
	assert.Equal(t, stream.Position{Seq: 44}, pos, "a position is past the marker")
}

// TestStartMarkerStartPositions: a start marker subscribes from the earliest
// event and skips below its id; after an org migration (the marker belongs
// to the old id sequence) on_invalid_replay_id applies instead, in a new
// epoch, and nothing is skipped.
func TestStartMarkerStartPositions(t *testing.T) {
	ctx := t.Context()
	const ch = "/event/Order__e"
	instance := "NA1"
	in := migrationInput(t, "latest", &instance)
	store := in.org.(cacheStore)
	_, err := in.checkOrgMigration(ctx) // records NA1
	require.NoError(t, err)
	require.NoError(t, store.Store(ctx, ch, stream.Position{Seq: 900, Start: true}))

	in2 := migrationInput(t, "latest", &instance)
	in2.org, in2.cp.store = store, store
	migrated, err := in2.checkOrgMigration(ctx)
	require.NoError(t, err)
	require.Empty(t, migrated)
	ids, err := in2.startPositions(ctx, migrated)
	require.NoError(t, err)
	assert.Equal(t, replayEarliest, cometdReplayID(ids[ch]), "a marker is never sent as a replay id")
	below, ok := in2.cp.SkipBelow(ch)
	require.True(t, ok)
	assert.Equal(t, int64(900), below)

	instance = "NA2" // the org moved while down
	in3 := migrationInput(t, "latest", &instance)
	in3.org, in3.cp.store = store, store
	migrated, err = in3.checkOrgMigration(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{ch: true}, migrated)
	ids, err = in3.startPositions(ctx, migrated)
	require.NoError(t, err)
	assert.Equal(t, replayLatest, cometdReplayID(ids[ch]), "on_invalid_replay_id after an org migration")
	_, ok = in3.cp.SkipBelow(ch)
	assert.False(t, ok, "the old sequence's first id skips nothing of the new one")
}
