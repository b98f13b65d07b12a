package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// invalidReplayPolicies are the on_invalid_replay_id policies with, for each,
// what it delivers after a refused stored replay id: expected picks, from the
// events retained at restart and those published after it, the ones the
// policy delivers. Both APIs' tests run them.
var invalidReplayPolicies = []struct {
	policy   string
	expected func(retained, after []int64) []int64
}{
	{"earliest", func(retained, after []int64) []int64 { return append(append([]int64{}, retained...), after...) }},
	{"latest", func(_, after []int64) []int64 { return after }},
	{"fail", func(_, _ []int64) []int64 { return nil }},
}

// TestInvalidReplayIDPolicies is acceptance criterion (c). A pipeline stops
// with its checkpoint at the last event of a channel; while it is down more
// events arrive and the channel is purged through the checkpoint, so the
// stored replay id is no longer retained; after the restart more events
// arrive. Then:
//   - earliest delivers everything still retained and everything new,
//   - latest delivers only what is published after the restart,
//   - fail delivers nothing, logs an error naming the replay id and channel,
//     and leaves the checkpoint as it was.
//
// Every policy logs the rejected replay id as an error.
func TestInvalidReplayIDPolicies(t *testing.T) {
	const channel = "/event/Purged__e"
	for _, test := range invalidReplayPolicies {
		t.Run(test.policy, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, harness.EmulatorConfig{})
			key := "purge_" + test.policy
			pipeline := func(out string) map[string]any {
				return recordPipeline(e.input(inputOpts{
					channels: []string{channel}, preset: "earliest", onInvalid: test.policy, key: key,
				}), fileOutput(out), nil)
			}
			resources := e.fileCache()

			// Run 1 consumes 20 events and stops cleanly: checkpoint = last.
			consumed, err := e.emu.PublishIDs(e.ctx, channel, 20, 2)
			require.NoError(t, err)
			run1Path := e.path("run1.jsonl")
			run1 := e.startBenthos("run1", pipeline(run1Path), resources)
			waitComplete(e.ctx, t, harness.Published{channel: consumed}, nil, run1Path, run1)
			e.stop(run1)
			checkpoint := consumed[len(consumed)-1]
			stored, ok := e.fileCheckpoint(key, channel)
			require.True(t, ok, "run 1 stored a checkpoint")
			require.Equal(t, idText(checkpoint), stored, "run 1 stored the last event as its checkpoint")

			// While down: 10 unconsumed events, then the purge of everything
			// through the checkpoint, then 10 more.
			unconsumed, err := e.emu.PublishIDs(e.ctx, channel, 10, 2)
			require.NoError(t, err)
			purge, err := e.emu.Purge(e.ctx, channel, &checkpoint)
			require.NoError(t, err)
			require.Equal(t, len(consumed), purge.Purged, "the purge removed the consumed events")
			later, err := e.emu.PublishIDs(e.ctx, channel, 10, 2)
			require.NoError(t, err)
			retained := append(append([]int64{}, unconsumed...), later...)

			run2Path := e.path("run2.jsonl")
			run2 := e.startBenthos("run2", pipeline(run2Path), resources)
			if test.policy == "fail" {
				logCtx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
				defer cancel()
				_, err := run2.WaitOutput(logCtx, func(line string) bool {
					return len(logLines(line, "error", idText(checkpoint), channel)) > 0
				})
				require.NoError(t, err, "an error log names replay id %d and %s", checkpoint, channel)
			} else {
				e.stateWait("the restarted subscription", func(st harness.State) bool { return st.Subscribed(channel) })
			}
			after, err := e.emu.PublishIDs(e.ctx, channel, 10, 2)
			require.NoError(t, err)

			want := harness.Published{channel: test.expected(retained, after)}
			recs := waitDue(e.ctx, t, want, run2Path, run2)
			report := harness.Check(want, recs)
			t.Logf("checkpoint %d purged; retained %d, published after restart %d; %s", checkpoint, len(retained), len(after), report)
			assert.Empty(t, report.Missing, "every event the policy promises is delivered")
			assert.Empty(t, report.Unexpected, "nothing the policy excludes is delivered")
			assert.Empty(t, report.Order, "in replay order")
			errLogs := logLines(run2.Output(), "error", idText(checkpoint), channel)
			if assert.NotEmpty(t, errLogs, "the rejected replay id %d of %s is logged as an error", checkpoint, channel) {
				t.Logf("error log: %s", errLogs[0])
			}
			if test.policy == "fail" {
				stored, _ := e.fileCheckpoint(key, channel)
				assert.Equal(t, idText(checkpoint), stored, "fail keeps the stored checkpoint for an operator to fix")
				_, statErr := os.Stat(run2Path)
				assert.True(t, os.IsNotExist(statErr) || len(recs) == 0, "fail delivers nothing")
			}
			e.stop(run2)
		})
	}
}
