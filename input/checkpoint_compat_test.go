package input

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// The checkpoints of earlier releases, written out literally: keys and
// values exactly as a file cache holds them. The codec interface must read
// every one of them and write the same bytes back.

// TestStoredFormatOfEarlierReleases loads literal stored values of both APIs
// (bare ids, epochs, start markers, Pub/Sub base64 under @pubsub keys) and
// stores the loaded position again: the bytes are the same. The keys the
// codecs do not touch (org record, lease, probe, snapshot) keep their names.
func TestStoredFormatOfEarlierReleases(t *testing.T) {
	tests := []struct {
		name, channel, key, value string
		codec                     checkpointfmt.Codec
		want                      stream.Position
	}{
		{name: "cometd bare id", channel: "/event/Order__e", key: "salesforce_streaming:%2Fevent%2FOrder__e", value: "981",
			codec: checkpointfmt.CometD, want: stream.Position{Seq: 981}},
		{name: "cometd epoch", channel: "/data/AccountChangeEvent", key: "salesforce_streaming:%2Fdata%2FAccountChangeEvent", value: "17@2",
			codec: checkpointfmt.CometD, want: stream.Position{Epoch: 2, Seq: 17}},
		{name: "cometd filtered pushtopic", channel: "/topic/Invoices?Status__c=Open", key: "salesforce_streaming:%2Ftopic%2FInvoices", value: "5",
			codec: checkpointfmt.CometD, want: stream.Position{Seq: 5}},
		{name: "cometd start marker", channel: "/event/Order__e", key: "salesforce_streaming:%2Fevent%2FOrder__e", value: "start:7556",
			codec: checkpointfmt.CometD, want: stream.Position{Seq: 7556, Start: true}},
		{name: "cometd start marker with epoch", channel: "/event/Order__e", key: "salesforce_streaming:%2Fevent%2FOrder__e", value: "start:20051@3",
			codec: checkpointfmt.CometD, want: stream.Position{Epoch: 3, Seq: 20051, Start: true}},
		{name: "pubsub epoch 0", channel: "/event/Order__e", key: "salesforce_streaming:%2Fevent%2FOrder__e@pubsub", value: "AAAAAAAAAAc=@0",
			codec: checkpointfmt.PubSub, want: stream.Position{Opaque: "\x00\x00\x00\x00\x00\x00\x00\x07"}},
		{name: "pubsub epoch", channel: "/data/ChangeEvents", key: "salesforce_streaming:%2Fdata%2FChangeEvents@pubsub", value: "AP8B@4",
			codec: checkpointfmt.PubSub, want: stream.Position{Epoch: 4, Opaque: "\x00\xff\x01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, t.TempDir(), "http://127.0.0.1:1", "channels: [ /event/Order__e ]\n")
			store := cacheStore{res: h.res, cache: "replay_ids", prefix: defaultCheckpointKey, codec: tt.codec}
			require.Equal(t, tt.key, store.key(tt.channel), "the key of earlier releases")
			for _, k := range checkpointfmt.WriteOrder(tt.key) {
				require.NoError(t, os.WriteFile(filepath.Join(h.dir, k), []byte(tt.value), 0o600))
			}
			pos, ok, err := store.Load(t.Context(), tt.channel)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, tt.want, pos)

			require.NoError(t, os.Remove(filepath.Join(h.dir, tt.key)))
			require.NoError(t, store.Store(t.Context(), tt.channel, pos))
			for _, k := range checkpointfmt.WriteOrder(tt.key) {
				raw, err := os.ReadFile(filepath.Join(h.dir, k))
				require.NoError(t, err)
				assert.Equal(t, tt.value, string(raw), "written back byte for byte: %s", k)
			}
		})
	}
	assert.Equal(t, "salesforce_streaming:@org", checkpointfmt.CometD.OrgKey(defaultCheckpointKey))
	assert.Equal(t, "salesforce_streaming:@org@pubsub", checkpointfmt.PubSub.OrgKey(defaultCheckpointKey))
	assert.Equal(t, "salesforce_streaming:lease", checkpointfmt.LeaseKey(defaultCheckpointKey))
	assert.Equal(t, "salesforce_streaming:probe", checkpointfmt.ProbeKey(defaultCheckpointKey))
	assert.Equal(t, "salesforce_streaming:snapshot", checkpointfmt.SnapshotKey(defaultCheckpointKey))
}

// TestResumeFromCheckpointOfEarlierRelease starts the input over a cache
// holding a CometD checkpoint as earlier releases wrote it (a position in
// epoch 1, then a start marker): it resumes right after the position, or at
// the marker's first event, and its next write keeps the format.
func TestResumeFromCheckpointOfEarlierRelease(t *testing.T) {
	const ch = "/event/Order__e"
	key := "salesforce_streaming:%2Fevent%2FOrder__e"
	for _, tt := range []struct {
		name   string
		stored func(first int64) string
		from   func(first int64) int64 // the first replay id delivered
	}{
		{"position in epoch 1", func(first int64) string { return fmt.Sprintf("%d@1", first+4) }, func(first int64) int64 { return first + 5 }},
		{"start marker", func(first int64) string { return fmt.Sprintf("start:%d", first+3) }, func(first int64) int64 { return first + 3 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			emu, url := startEmulator(t, sfemu.Config{MaxBatch: 100, MaxReplayGap: -1}) // contiguous ids
			ids := publishIDs(t, emu, ch, 10)
			first, last := ids[0], ids[1]
			dir := t.TempDir()
			for _, k := range checkpointfmt.WriteOrder(key) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, k), []byte(tt.stored(first)), 0o600))
			}
			h := newHarness(t, dir, url, "channels: [ "+ch+" ]\nreplay_preset: latest\nlease: { enabled: false }\n")
			require.NoError(t, h.in.Connect(t.Context()))
			var want []int64
			for id := tt.from(first); id <= last; id++ {
				want = append(want, id)
			}
			assert.Equal(t, want, h.readN(t, len(want), true))
			require.NoError(t, h.in.Close(context.Background()))
			raw, err := os.ReadFile(filepath.Join(dir, key))
			require.NoError(t, err)
			epoch := ""
			if tt.name == "position in epoch 1" {
				epoch = "@1"
			}
			assert.Equal(t, fmt.Sprintf("%d%s", last, epoch), string(raw), "the same format after the resume")
		})
	}
}

// TestPubSubResumeFromCheckpointOfEarlierRelease: the same over the Pub/Sub
// API, from `<base64 replay id>@<epoch>` under the @pubsub key.
func TestPubSubResumeFromCheckpointOfEarlierRelease(t *testing.T) {
	const ch = "/event/Order__e"
	key := "salesforce_streaming:%2Fevent%2FOrder__e@pubsub"
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{MaxReplayGap: -1}) // contiguous ids
	first, last, err := emu.PublishN(ch, 10)
	require.NoError(t, err)
	stored := base64.StdEncoding.EncodeToString(sfemuReplayID(first+4)) + "@2"
	dir := t.TempDir()
	for _, k := range checkpointfmt.WriteOrder(key) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, k), []byte(stored), 0o600))
	}
	c := newCollector()
	rs := startStream(t, url, dir, pubsubFields(addr, "  channels: [ "+ch+" ]\n  replay_preset: latest\n"), c)
	c.waitFor(t, int(last-first-4))
	rs.stop(t)
	ids := pubsubIDs(t, c)
	require.NotEmpty(t, ids)
	assert.Equal(t, first+5, ids[0], "right after the stored replay id")
	assert.Equal(t, last, ids[len(ids)-1])
	raw, err := os.ReadFile(filepath.Join(dir, key))
	require.NoError(t, err)
	var want [8]byte
	binary.BigEndian.PutUint64(want[:], uint64(last))
	assert.Equal(t, base64.StdEncoding.EncodeToString(want[:])+"@2", string(raw), "the same format and epoch after the resume")
}
