package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

func TestPubSubSpecsCoverPlatformEventsAndCDC(t *testing.T) {
	channels, err := parseChannels(defaultChannels)
	require.NoError(t, err)
	specs := pubsubSpecs(channels)
	var got []string
	for _, ch := range specs {
		assert.Equal(t, apiPubSub, ch.API)
		assert.Equal(t, pubsubPrefix+ch.source(), ch.Base, "recorded under a channel of its own")
		assert.Equal(t, ch.source(), ch.Configured, "subscribed by its Salesforce name")
		got = append(got, ch.source())
	}
	assert.Equal(t, []string{"/event/ChaosOrder__e", "/data/AccountChangeEvent", "/data/ChangeEvents"}, got,
		"PushTopic and generic channels are CometD only")
	assert.Empty(t, pubsubSpecs(specs), "a Pub/Sub channel has no Pub/Sub twin")
}

func TestSoakLedgerMirrorsEveryPublishToPubSub(t *testing.T) {
	channels, err := parseChannels("/event/A__e,/u/G")
	require.NoError(t, err)
	p := newPublisher(nil, channels, 1, 1)
	p.record("/event/A__e", time.Unix(1, 0), []int64{1, 3}, nil)
	p.record("/u/G", time.Unix(1, 0), []int64{2}, nil)
	s := &soak{channels: channels, pubsub: pubsubSpecs(channels), pub: p}
	expected, times, _, last := s.ledger()
	assert.Equal(t, harness.Published{"/event/A__e": {1, 3}, "pubsub:/event/A__e": {1, 3}, "/u/G": {2}}, expected)
	assert.Len(t, times["pubsub:/event/A__e"], 2)
	assert.Equal(t, int64(3), last["pubsub:/event/A__e"])

	expected["pubsub:/event/A__e"][0] = 99
	again, _, _, _ := s.ledger()
	assert.Equal(t, []int64{1, 3}, again["/event/A__e"], "the mirror is a copy")
	assert.Len(t, s.allChannels(), 3)
	assert.Equal(t, []string{"pubsub:/event/A__e"}, sortedKeys(onlyPubSub(times)))
}

func TestPubSubPositionReadsTheEmulatorsReplayID(t *testing.T) {
	stored := map[string]string{}
	get := func(_ context.Context, key string) ([]byte, bool, error) {
		v, ok := stored[key]
		return []byte(v), ok, nil
	}
	_, ok, err := pubsubPosition(context.Background(), get, "/data/ChangeEvents")
	require.NoError(t, err)
	assert.False(t, ok, "nothing stored")

	key := checkpointfmt.PubSub.Key(pubsubCheckpointKey, "/data/ChangeEvents")
	id := checkpointfmt.Position{Epoch: 2, ReplayID: []byte{0, 0, 0, 0, 0, 0, 1, 2}}
	stored[key] = string(checkpointfmt.PubSub.Format(id))
	stored[key+checkpointfmt.ShadowSuffix] = string(checkpointfmt.PubSub.Format(id))
	pos, ok, err := pubsubPosition(context.Background(), get, "/data/ChangeEvents")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, checkpointfmt.Position{ID: 258, Epoch: 2}, pos)

	marker := checkpointfmt.Position{Epoch: 2, ReplayID: []byte{0, 0, 0, 0, 0, 0, 1, 3}, Start: true, Time: 1700000000000}
	stored[key] = string(checkpointfmt.PubSub.Format(marker))
	stored[key+checkpointfmt.ShadowSuffix] = string(checkpointfmt.PubSub.Format(marker))
	pos, ok, err = pubsubPosition(context.Background(), get, "/data/ChangeEvents")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, checkpointfmt.Position{ID: 259, Epoch: 2, Start: true}, pos, "a start marker stays one: it acknowledges nothing")

	stored[key] = string(checkpointfmt.PubSub.Format(checkpointfmt.Position{ReplayID: []byte("abc")}))
	delete(stored, key+checkpointfmt.ShadowSuffix)
	_, _, err = pubsubPosition(context.Background(), get, "/data/ChangeEvents")
	assert.Error(t, err, "not the emulator's 8 bytes")
}

func TestPipelineConfigWithPubSub(t *testing.T) {
	params := pipelineParams{
		EmulatorURL: "http://127.0.0.1:1", SinkURL: "http://127.0.0.1:2/records",
		Channels: []string{"/event/A__e", "/u/G"}, CheckpointLimit: 10, MaxBuffered: 20, Preset: "latest",
	}
	decode := func(p pipelineParams) map[string]any {
		text, err := pipelineConfig(p)
		require.NoError(t, err)
		var conf map[string]any
		require.NoError(t, json.Unmarshal([]byte(text), &conf))
		return conf
	}

	alone := decode(params)
	assert.Contains(t, alone["input"], "salesforce_streaming", "without Pub/Sub the input is the CometD one alone")
	assert.Len(t, alone["pipeline"].(map[string]any)["processors"], 1, "the pipeline maps to records")

	params.PubSubAddr, params.PubSubChannels = "127.0.0.1:3", []string{"/event/A__e"}
	both := decode(params)
	assert.Empty(t, both["pipeline"].(map[string]any)["processors"], "each input maps its own messages")
	inputs := both["input"].(map[string]any)["broker"].(map[string]any)["inputs"].([]any)
	require.Len(t, inputs, 2)
	cometd := inputs[0].(map[string]any)
	pubsub := inputs[1].(map[string]any)
	cc := cometd["salesforce_streaming"].(map[string]any)
	pc := pubsub["salesforce_streaming"].(map[string]any)
	assert.NotContains(t, cc, "api")
	assert.Equal(t, checkpointKey, cc["checkpoint_cache_key"])
	assert.Equal(t, "pubsub", pc["api"])
	assert.Equal(t, "127.0.0.1:3", pc["pubsub_endpoint"])
	assert.Equal(t, []any{"/event/A__e"}, pc["channels"])
	assert.Equal(t, pubsubCheckpointKey, pc["checkpoint_cache_key"], "a key prefix of its own")
	assert.Equal(t, "latest", pc["replay_preset"], "the run's preset applies to both")
	assert.Equal(t, harness.RecordMapping, cometd["processors"].([]any)[0].(map[string]any)["mapping"])
	assert.Equal(t, pubsubRecordMapping, pubsub["processors"].([]any)[0].(map[string]any)["mapping"])
}
