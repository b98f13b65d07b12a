package e2e

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/harness"
)

// The fallback-epoch scenario's sizes.
const (
	epochChannel = "/event/Epoch__e"
	epochKey     = "epoch"
	epochFirst   = 30   // events of the first emulator
	epochGap     = 1000 // their id step: the first emulator's ids end far above any fresh emulator's
	epochDown    = 10   // events published while a run is down
	epochAfter   = 10   // events published once a run is subscribed
	epochRuns    = 3    // runs on the second emulator: the refused restart and two plain ones
)

// TestFallbackStartsNewEpoch: a stored replay id that the org refuses
// because the ids it serves are now lower (a sandbox refresh, an org
// migration, an emulator restarted afresh) makes the input fall back per
// on_invalid_replay_id once, and from then on count from the ids the org
// serves: the first acknowledged id after the fallback replaces the stored
// one although lower. Three restarts on the new ids, with events published
// while each run is down and after it subscribed: the refused restart
// delivers what its policy promises, and every later restart resumes right
// after the last acknowledged event: nothing skipped (missing), nothing
// replayed again (graceful stops leave no in-flight window), and each
// graceful stop leaves the checkpoint at the last event.
func TestFallbackStartsNewEpoch(t *testing.T) {
	for _, policy := range []string{"earliest", "latest"} {
		t.Run(policy, func(t *testing.T) {
			runFallbackEpoch(t, policy)
		})
	}
}

func runFallbackEpoch(t *testing.T, policy string) {
	e := newEnv(t, harness.EmulatorConfig{})
	resources := e.fileCache()
	pipeline := func(out string) map[string]any {
		return recordPipeline(e.input(inputOpts{
			channels: []string{epochChannel}, preset: "earliest", onInvalid: policy, key: epochKey,
		}), fileOutput(out), nil)
	}

	// Run 1 on the first emulator: high ids, stored on a graceful stop.
	first, err := e.emu.PublishIDs(e.ctx, epochChannel, epochFirst, epochGap)
	require.NoError(t, err)
	run1Path := e.path("run1.jsonl")
	run1 := e.startBenthos("run1", pipeline(run1Path), resources)
	waitComplete(e.ctx, t, harness.Published{epochChannel: first}, nil, run1Path, run1)
	e.stop(run1)
	refused := idText(first[len(first)-1])
	stored, ok := e.fileCheckpoint(epochKey, epochChannel)
	require.True(t, ok, "run 1 stored a checkpoint")
	require.Equal(t, refused, storedID(stored), "run 1 stored its last event")

	// A fresh emulator: its ids start below the stored one, which it refuses.
	require.NoError(t, e.emu.Close())
	emu, err := harness.StartEmulator(e.ctx, harness.EmulatorConfig{Dir: e.dir, Name: "sfemu2", Hold: emulatorHold})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("second emulator at %s:\n%s", emu.URL, emu.Proc.Tail(logTailLines))
		}
		_ = emu.Close()
	})
	e.emu = emu

	for run := 2; run < 2+epochRuns; run++ {
		down, err := e.emu.PublishIDs(e.ctx, epochChannel, epochDown, 1)
		require.NoError(t, err)
		if run == 2 {
			require.Less(t, down[len(down)-1], first[len(first)-1], "the second emulator's ids are below the stored one")
		}
		path := e.path(fmt.Sprintf("run%d.jsonl", run))
		proc := e.startBenthos(fmt.Sprintf("run%d", run), pipeline(path), resources)
		e.stateWait(fmt.Sprintf("run %d subscribed", run), func(st harness.State) bool { return st.Subscribed(epochChannel) })
		after, err := e.emu.PublishIDs(e.ctx, epochChannel, epochAfter, 1)
		require.NoError(t, err)

		// What the run must deliver, exactly: the refused restart delivers
		// per its policy; a later one resumes after the last acknowledged.
		want := append(append([]int64{}, down...), after...)
		if run == 2 && policy == "latest" {
			want = after
		}
		last := after[len(after)-1]
		wantPub := harness.Published{epochChannel: want}
		waitSettled(e.ctx, t, wantPub, path, proc, func(recs []harness.Record) bool {
			return delivered(recs, epochChannel, last)
		})
		e.stop(proc)
		recs, err := harness.ReadRecords(path) // with what arrived until the stop
		require.NoError(t, err)
		report := harness.Check(wantPub, recs)
		t.Logf("run %d (%s): skipped %d, replayed %d; %s", run, policy,
			harness.Count(report.Missing), harness.Count(report.Unexpected), report)
		assert.Empty(t, report.Missing, "run %d: skipped events published since the last acknowledged one", run)
		assert.Empty(t, report.Unexpected, "run %d: replayed events acknowledged by an earlier run", run)
		assert.Empty(t, report.DuplicatesWithinRun, "run %d: no redelivery inside the run", run)
		stored, ok := e.fileCheckpoint(epochKey, epochChannel)
		assert.True(t, ok, "run %d: a checkpoint is stored", run)
		assert.Equal(t, idText(last), storedID(stored), "run %d: after the graceful stop the checkpoint is the last event, although below the refused %s", run, refused)
	}
}
