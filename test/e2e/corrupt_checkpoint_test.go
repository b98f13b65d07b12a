package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestStoredMinusOneIsRefused: a checkpoint holding -1 (which Salesforce
// reads as "the latest event") once made the input skip every retained
// event. Now:
//   - -1 in the key and its shadow: an error names the key, the channel does
//     not start, nothing is delivered, the stored value is left for an
//     operator;
//   - -1 in the key, a valid id in the shadow: the input resumes after the
//     shadow's id and delivers every later retained event.
func TestStoredMinusOneIsRefused(t *testing.T) {
	t.Parallel()
	const (
		channel = "/event/MinusOne__e"
		prefix  = "minus_one"
	)
	e := newEnv(t, harness.EmulatorConfig{})
	resources := e.fileCache()
	retained, err := e.emu.PublishIDs(e.ctx, channel, 90, 2)
	require.NoError(t, err)
	key := checkpointfmt.CheckpointKey(prefix, channel)
	write := func(cacheKey, value string) {
		require.NoError(t, os.WriteFile(filepath.Join(e.path("replay_ids"), cacheKey), []byte(value), 0o644))
	}
	write(key, "-1")
	write(key+checkpointfmt.ShadowSuffix, "-1")
	pipeline := func(out string) map[string]any {
		return recordPipeline(e.input(inputOpts{channels: []string{channel}, preset: "earliest", key: prefix}), fileOutput(out), nil)
	}

	run1Path := e.path("run1.jsonl")
	run1 := e.startBenthos("run1", pipeline(run1Path), resources)
	logCtx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer cancel()
	line, err := run1.WaitOutput(logCtx, func(line string) bool {
		return len(logLines(line, "error", key, `holds \"-1\"`)) > 0 || len(logLines(line, "error", key, `holds "-1"`)) > 0
	})
	require.NoError(t, err, "an error log names the key %s and its value -1", key)
	t.Logf("error log: %s", line)
	// Give the input a long-poll hold to misbehave: it must not subscribe.
	time.Sleep(emulatorHold)
	recs, err := harness.ReadRecords(run1Path)
	require.NoError(t, err)
	assert.Empty(t, recs, "nothing is delivered from a refused checkpoint")
	assert.NotContains(t, run1.Output(), "Subscribing to "+channel, "the channel does not start")
	st, err := e.emu.State(e.ctx)
	require.NoError(t, err)
	assert.False(t, st.HasSubscription(channel), "no subscription to %s", channel)
	_ = run1.Close()
	raw, _ := e.fileCacheValue(key)
	assert.Equal(t, "-1", raw, "the refused value is left for an operator to fix")

	// The shadow holds a valid id: it is used.
	from := retained[29]
	write(key+checkpointfmt.ShadowSuffix, idText(from))
	run2Path := e.path("run2.jsonl")
	run2 := e.startBenthos("run2", pipeline(run2Path), resources)
	want := harness.Published{channel: retained[30:]}
	recs, report := waitComplete(e.ctx, t, want, nil, run2Path, run2)
	t.Logf("resumed from the shadow's %d: %s", from, report)
	assert.Empty(t, report.Unexpected, "nothing at or before the shadow's id")
	assert.Empty(t, report.Order)
	assert.Len(t, recs, len(retained)-30, "every retained event after the shadow's id, none skipped")
	warn := logLines(run2.Output(), "warn", key, "not a replay id")
	assert.NotEmpty(t, warn, "a warning names the refused key")
	e.stop(run2)
}
