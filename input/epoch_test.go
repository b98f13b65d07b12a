package input

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// TestCheckpointEpochs: after a replay-id fallback the first acknowledged id
// replaces the stored one even when lower; within an epoch the stored id
// only moves forward, and acks of batches tracked before the fallback no
// longer move it.
func TestCheckpointEpochs(t *testing.T) {
	store := newFakeStore()
	store.ids["/event/A__e"] = 500
	c := newCheckpointer(store, 100, service.MockResources().Logger(), nil)
	ctx := t.Context()

	pos, ok, err := c.Resume(ctx, "/event/A__e")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(500), pos.Seq)

	old, err := c.Track(ctx, "/event/A__e", stream.Position{Seq: 510}, true, 1) // handed out before the fallback
	require.NoError(t, err)
	c.NewEpoch("/event/A__e")
	first, err := c.Track(ctx, "/event/A__e", stream.Position{Seq: 10}, true, 1)
	require.NoError(t, err)
	second, err := c.Track(ctx, "/event/A__e", stream.Position{Seq: 20}, true, 1)
	require.NoError(t, err)

	second() // out of order: nothing contiguous yet past old
	old()    // resolves old (epoch 0, 510) and leaves first pending
	first()
	closeCheckpointer(t, c)

	stored, ok := store.stored("/event/A__e")
	require.True(t, ok)
	assert.Equal(t, int64(20), stored, "the new epoch's id replaces the higher stored one")
	assert.Equal(t, int64(1), store.epochs["/event/A__e"])

	// A restart reads the new epoch and resumes after 20; within it the id
	// never moves back.
	c = newCheckpointer(store, 100, service.MockResources().Logger(), nil)
	pos, _, err = c.Resume(ctx, "/event/A__e")
	require.NoError(t, err)
	assert.Equal(t, int64(20), pos.Seq)
	var id int64
	c.advance("/event/A__e", stream.Position{Epoch: 1, Seq: 15})
	c.advance("/event/A__e", stream.Position{Epoch: 0, Seq: 900})
	id, _ = c.Highest("/event/A__e")
	assert.Equal(t, int64(20), id, "a lower id of the same epoch or any id of an older one is ignored")
	c.advance("/event/A__e", stream.Position{Epoch: 1, Seq: 25})
	id, _ = c.Highest("/event/A__e")
	assert.Equal(t, int64(25), id)
	closeCheckpointer(t, c)
}

// TestCheckpointNeverMovesBack: within an epoch the acked mark only grows,
// whatever order acks come in and whatever the store held.
func TestCheckpointNeverMovesBack(t *testing.T) {
	store := newFakeStore()
	store.ids["/u/A"] = 300
	c := newCheckpointer(store, 100, service.MockResources().Logger(), nil)
	_, _, err := c.Resume(t.Context(), "/u/A")
	require.NoError(t, err)
	// A reconnect redelivers from an older position: these ids are below
	// what is stored.
	ack, err := c.Track(t.Context(), "/u/A", stream.Position{Seq: 200}, true, 1)
	require.NoError(t, err)
	ack()
	id, _ := c.Highest("/u/A")
	assert.Equal(t, int64(300), id)
	closeCheckpointer(t, c)
	assert.Empty(t, store.history("/u/A"), "nothing lower was written")
}

// TestCacheStoreEpochFormat: epoch 0 keeps the bare id; later epochs are
// written `<id>@<epoch>`; the higher (epoch, id) of key and shadow wins, so a
// crash between the shadow and the key of the first write after a fallback
// still resumes in the new epoch.
func TestCacheStoreEpochFormat(t *testing.T) {
	dir := t.TempDir()
	builder := service.NewResourceBuilder()
	require.NoError(t, builder.AddCacheYAML("label: replay_ids\nfile:\n  directory: "+dir))
	res, stop, err := builder.Build()
	require.NoError(t, err)
	defer func() { _ = stop(context.Background()) }()
	store := cacheStore{res: res, cache: "replay_ids", prefix: "p"}

	tests := []struct {
		name, key, shadow string
		want              stream.Position
		wantErr           bool
	}{
		{name: "old format", key: "500", want: stream.Position{Seq: 500}},
		{name: "epoch written to both", key: "10@1", shadow: "10@1", want: stream.Position{Epoch: 1, Seq: 10}},
		{name: "killed between the shadow and the key", key: "500", shadow: "10@1", want: stream.Position{Epoch: 1, Seq: 10}},
		{name: "key torn inside the epoch", key: "12@", shadow: "12@2", want: stream.Position{Epoch: 2, Seq: 12}},
		{name: "key cut to the id", key: "12", shadow: "12@2", want: stream.Position{Epoch: 2, Seq: 12}},
		{name: "shadow torn, key holds the last full write", key: "9@2", shadow: "1", want: stream.Position{Epoch: 2, Seq: 9}},
		{name: "within an epoch the higher id", key: "30@3", shadow: "31@3", want: stream.Position{Epoch: 3, Seq: 31}},
		{name: "epoch zero spelled out is refused", key: "5@0", wantErr: true},
		{name: "garbage epoch", key: "5@x", wantErr: true},
	}
	for k, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			channel := "/u/C" + string(rune('a'+k))
			require.NoError(t, os.WriteFile(filepath.Join(dir, store.key(channel)), []byte(test.key), 0o600))
			if test.shadow != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, store.key(channel)+checkpointfmt.ShadowSuffix), []byte(test.shadow), 0o600))
			}
			pos, ok, err := store.Load(t.Context(), channel)
			if test.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, test.want, pos)
		})
	}

	require.NoError(t, store.Store(t.Context(), "/u/W", stream.Position{Epoch: 4, Seq: 77}))
	raw, err := os.ReadFile(filepath.Join(dir, store.key("/u/W")))
	require.NoError(t, err)
	assert.Equal(t, "77@4", string(raw))
	require.NoError(t, store.Store(t.Context(), "/u/Z", stream.Position{Seq: 77}))
	raw, err = os.ReadFile(filepath.Join(dir, store.key("/u/Z")))
	require.NoError(t, err)
	assert.Equal(t, "77", string(raw), "epoch 0 keeps the format earlier releases read")
}

// TestStreamFallbackEpochResumes: the stored replay id is refused (the ids
// the org serves now are all lower). Each policy falls back once, then every
// restart resumes right after the last acknowledged event: no whole-window
// replay with earliest, no skip with latest.
func TestStreamFallbackEpochResumes(t *testing.T) {
	for _, policy := range []string{"earliest", "latest"} {
		t.Run(policy, func(t *testing.T) {
			emu, url := startEmulator(t, sfemu.Config{})
			backlog := publishOneByOne(t, emu, "/event/Order__e", 10)
			dir := t.TempDir()
			key := "salesforce_streaming:%2Fevent%2FOrder__e"
			require.NoError(t, os.WriteFile(filepath.Join(dir, key), []byte("999999999"), 0o600))
			fields := "  channels: [ /event/Order__e ]\n  on_invalid_replay_id: " + policy + "\n"

			c := newCollector()
			rs := startStream(t, url, dir, fields, c)
			var want []int64
			if policy == "earliest" {
				want = backlog
			} else {
				// latest: the backlog is skipped (that is the policy); what is
				// published once the input is subscribed arrives.
				waitSubscribed(t, emu)
				want = publishOneByOne(t, emu, "/event/Order__e", 3)
			}
			c.waitFor(t, len(want))
			rs.stop(t)
			assert.Equal(t, want, c.snapshot())
			last := want[len(want)-1]

			for restart := range 3 {
				downtime := publishOneByOne(t, emu, "/event/Order__e", 4)
				c := newCollector()
				rs := startStream(t, url, dir, fields, c)
				c.waitFor(t, len(downtime))
				rs.stop(t)
				assert.Equal(t, downtime, c.snapshot(), "restart %d resumes right after %d", restart+1, last)
				last = downtime[len(downtime)-1]
				raw, err := os.ReadFile(filepath.Join(dir, key))
				require.NoError(t, err)
				pos, err := checkpointfmt.CometD.Parse(raw)
				require.NoError(t, err)
				assert.Equal(t, checkpointfmt.Position{Epoch: 1, ID: last}, pos)
			}
		})
	}
}

// waitSubscribed waits until the emulator has a subscribed client.
func waitSubscribed(t *testing.T, emu *sfemu.Server) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, cl := range emu.State().Clients {
			if len(cl.Subscriptions) > 0 {
				return true
			}
		}
		return false
	}, waitTimeout, 10*time.Millisecond)
}
