package e2e

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestMigrateOrgFallbackAndResume drives the input through an org
// migration: Salesforce moves the org, every session ends and replay ids
// restart below the old ones, so the stored replay id is refused as invalid.
// The running pipeline must fall back (on_invalid_replay_id: earliest),
// deliver every event of the new sequence in order, and checkpoint in the new
// sequence: after a restart it resumes after the last new event it
// delivered, with neither skips nor a replay of the new sequence. A
// checkpoint stuck at the old, higher id would be refused on every restart
// and replay everything (or, with latest, skip).
func TestMigrateOrgFallbackAndResume(t *testing.T) {
	const (
		channel = "/data/MigrateChangeEvent"
		key     = "migrate"
	)
	e := newEnv(t, harness.EmulatorConfig{})
	pipeline := func(out string) map[string]any {
		return recordPipeline(e.input(inputOpts{
			channels: []string{channel}, preset: "earliest", onInvalid: "earliest", key: key,
		}), fileOutput(out), nil)
	}
	resources := e.fileCache()

	old, err := e.emu.PublishIDs(e.ctx, channel, 20, 2)
	require.NoError(t, err)
	run1Path := e.path("run1.jsonl")
	run1 := e.startBenthos("run1", pipeline(run1Path), resources)
	waitComplete(e.ctx, t, harness.Published{channel: old}, nil, run1Path, run1)

	migrated, err := e.emu.MigrateOrg(e.ctx)
	require.NoError(t, err)
	require.Less(t, migrated[channel].NextReplayIDFrom, old[0], "replay ids restart below the old ones")
	e.stateWait("the subscription after the migration", func(st harness.State) bool { return st.Subscribed(channel) })
	fresh, err := e.emu.PublishIDs(e.ctx, channel, 20, 2)
	require.NoError(t, err)
	require.Less(t, fresh[len(fresh)-1], old[0], "the new sequence stays below the old one")
	recs1, _ := waitComplete(e.ctx, t, harness.Published{channel: fresh}, nil, run1Path, run1)
	e.stop(run1)

	// Each sequence is checked on its own: ids go down at the migration.
	var oldRecs, freshRecs []harness.Record
	for _, r := range recs1 {
		if slices.Contains(old, r.ReplayID) {
			oldRecs = append(oldRecs, r)
		} else {
			freshRecs = append(freshRecs, r)
		}
	}
	for name, c := range map[string]struct {
		ids  []int64
		recs []harness.Record
	}{"old sequence": {old, oldRecs}, "new sequence": {fresh, freshRecs}} {
		report := harness.Check(harness.Published{channel: c.ids}, c.recs)
		t.Logf("run 1, %s: %s", name, report)
		assert.Empty(t, report.Missing, "%s: every event delivered", name)
		assert.Empty(t, report.Unexpected, "%s: nothing else delivered", name)
		assert.Empty(t, report.Order, "%s: in replay order", name)
		assert.Empty(t, report.DuplicatesWithinRun, "%s: each event once", name)
	}
	invalid := logLines(run1.Output(), "error", channel)
	assert.NotEmpty(t, invalid, "the refused replay id is logged as an error")
	stored, _ := e.fileCheckpoint(key, channel)
	t.Logf("stored checkpoint after run 1: %q (new sequence ends at %d, old at %d)", stored, fresh[len(fresh)-1], old[len(old)-1])

	// While down, more events of the new sequence; the restart resumes
	// after the last one delivered.
	more, err := e.emu.PublishIDs(e.ctx, channel, 10, 2)
	require.NoError(t, err)
	run2Path := e.path("run2.jsonl")
	run2 := e.startBenthos("run2", pipeline(run2Path), resources)
	recs2, report := waitComplete(e.ctx, t, harness.Published{channel: more}, nil, run2Path, run2)
	t.Logf("run 2: %s", report)
	assert.Empty(t, report.Unexpected, "the restart replays nothing it had delivered: it resumes in the new sequence")
	assert.Empty(t, report.Order, "in replay order")
	assert.Len(t, recs2, len(more), "exactly the events published while down")
	e.stop(run2)
}
