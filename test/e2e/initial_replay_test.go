package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestInitialReplayIDs is acceptance criterion (h): a channel without a
// checkpoint starts exactly after its initial_replay_ids entry (not at
// replay_preset), and keeps flowing from there.
func TestInitialReplayIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, harness.EmulatorConfig{})
	const channel = "/data/InitialChangeEvent"
	ids, err := e.emu.PublishIDs(e.ctx, channel, 10, 3)
	require.NoError(t, err)

	outPath := e.path("out.jsonl")
	conf := recordPipeline(e.input(inputOpts{
		channels: []string{channel},
		preset:   "earliest", // would deliver all ten if initial_replay_ids were ignored
		initial:  map[string]int64{channel: ids[4]},
		key:      "initial",
	}), fileOutput(outPath), nil)
	proc := e.startBenthos("initial", conf, e.fileCache())
	e.stateWait("the subscription", func(st harness.State) bool { return st.Subscribed(channel) })
	more, err := e.emu.PublishIDs(e.ctx, channel, 3, 3)
	require.NoError(t, err)

	want := harness.Published{channel: append(append([]int64{}, ids[5:]...), more...)}
	recs, report := waitComplete(e.ctx, t, want, nil, outPath, proc)
	e.stop(proc)
	require.NotEmpty(t, recs)
	assert.Equal(t, ids[5], recs[0].ReplayID, "output begins at the 6th event, right after initial_replay_ids %d", ids[4])
	assert.Empty(t, report.Unexpected, "nothing at or before the initial replay id")
	assert.Empty(t, report.Order, "in replay order")
	stored, ok := e.fileCheckpoint("initial", channel)
	assert.True(t, ok, "a checkpoint is stored")
	assert.Equal(t, idText(more[len(more)-1]), stored, "the checkpoint is the last delivered replay id")
}
