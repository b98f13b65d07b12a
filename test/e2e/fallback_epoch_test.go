package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
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
	// With a kill -9 right after the fallback: the refused restart gets a
	// longer stream, in small connect answers, and is killed mid-stream once
	// a checkpoint of the new epoch is stored.
	epochKillAfter    = 1000
	epochKillAt       = 100 // records of the refused restart before its kill
	epochKillMaxBatch = 10
)

// TestFallbackStartsNewEpoch: a stored replay id that the org refuses
// because the ids it serves are now lower (a sandbox refresh, an org
// migration, an emulator restarted afresh) makes the input fall back per
// on_invalid_replay_id once, and from then on count from the ids the org
// serves: the first acknowledged id after the fallback replaces the stored
// one although lower. Three restarts on the new ids, with events published
// while each run is down and after it subscribed: the refused restart
// delivers what its policy promises, and every later restart delivers
// exactly the events after the last acknowledged one (the last event after
// a graceful stop, the stored replay id after a kill): nothing skipped,
// nothing acknowledged replayed, so duplicates are at most a killed run's
// in-flight window. A graceful stop leaves the
// checkpoint at the last event. The kill -9 case ends the refused restart
// mid-stream, once the new epoch is stored, with the file cache.
func TestFallbackStartsNewEpoch(t *testing.T) {
	tests := []struct {
		policy string
		kill   bool // kill -9 the refused restart mid-stream
	}{
		{"earliest", false},
		{"latest", false},
		{"earliest", true},
		{"latest", true},
	}
	for _, test := range tests {
		name := test.policy
		if test.kill {
			name += " and kill -9 after the fallback"
		}
		t.Run(name, func(t *testing.T) {
			runFallbackEpoch(t, test.policy, test.kill)
		})
	}
}

func runFallbackEpoch(t *testing.T, policy string, kill bool) {
	e := newEnv(t, harness.EmulatorConfig{})
	resources := e.fileCache()
	pipeline := func(out string, slow bool) map[string]any {
		output := fileOutput(out)
		if slow { // a stream of a second or more, for the kill to land in
			output["processors"] = []any{map[string]any{"sleep": map[string]any{"duration": "1ms"}}}
		}
		return recordPipeline(e.input(inputOpts{
			channels: []string{epochChannel}, preset: "earliest", onInvalid: policy, key: epochKey,
		}), output, nil)
	}

	// Run 1 on the first emulator: high ids, stored on a graceful stop.
	first, err := e.emu.PublishIDs(e.ctx, epochChannel, epochFirst, epochGap)
	require.NoError(t, err)
	run1Path := e.path("run1.jsonl")
	run1 := e.startBenthos("run1", pipeline(run1Path, false), resources)
	waitComplete(e.ctx, t, harness.Published{epochChannel: first}, nil, run1Path, run1)
	e.stop(run1)
	refused := first[len(first)-1]
	stored, ok := e.storedPosition(epochKey, epochChannel)
	require.True(t, ok, "run 1 stored a checkpoint")
	require.Equal(t, refused, stored, "run 1 stored its last event")

	// A fresh emulator: its ids start below the stored one, which it refuses.
	require.NoError(t, e.emu.Close())
	emu, err := harness.StartEmulator(e.ctx, harness.EmulatorConfig{Dir: e.dir, Name: "sfemu2", Hold: emulatorHold, MaxBatch: epochKillMaxBatch})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("second emulator at %s:\n%s", emu.URL, emu.Proc.Tail(logTailLines))
		}
		_ = emu.Close()
	})
	e.emu = emu

	var served []int64 // every id the second emulator holds, in order
	// resumeAfter is the last acknowledged event of the run before: its
	// last event after a graceful stop (which delivered everything), the
	// stored replay id after a kill.
	var resumeAfter int64
	for run := 2; run < 2+epochRuns; run++ {
		refusedRun, killed := run == 2, kill && run == 2
		down, err := e.emu.PublishIDs(e.ctx, epochChannel, epochDown, 1)
		require.NoError(t, err)
		if refusedRun {
			require.Less(t, down[len(down)-1], refused, "the second emulator's ids are below the stored one")
		}
		path := e.path(fmt.Sprintf("run%d.jsonl", run))
		proc := e.startBenthos(fmt.Sprintf("run%d", run), pipeline(path, killed), resources)
		e.stateWait(fmt.Sprintf("run %d subscribed", run), func(st harness.State) bool { return st.Subscribed(epochChannel) })
		n := epochAfter
		if killed {
			n = epochKillAfter
		}
		after, err := e.emu.PublishIDs(e.ctx, epochChannel, n, 1)
		require.NoError(t, err)
		served = append(append(served, down...), after...)

		// What the run must deliver, exactly: the refused restart delivers
		// per its policy; a later one everything after the last acknowledged
		// event.
		var want []int64
		switch {
		case refusedRun && policy == "latest":
			want = after
		case refusedRun:
			want = served
		default:
			for _, id := range served {
				if id > resumeAfter {
					want = append(want, id)
				}
			}
		}
		last := after[len(after)-1]
		wantPub := harness.Published{epochChannel: want}
		if killed {
			ctx, cancel := context.WithTimeout(e.ctx, deliverWait)
			_, err := harness.WaitRecords(ctx, path, func(recs []harness.Record) bool {
				pos, ok := e.storedPosition(epochKey, epochChannel)
				return len(recs) >= epochKillAt && ok && pos < refused
			})
			cancel()
			require.NoError(t, err, "run %d reached %d records with a checkpoint of the new epoch", run, epochKillAt)
			require.NoError(t, proc.Kill())
		} else {
			waitSettled(e.ctx, t, wantPub, path, proc, func(recs []harness.Record) bool {
				return delivered(recs, epochChannel, last)
			})
			e.stop(proc)
		}
		recs, err := harness.ReadRecords(path) // with what arrived until the stop
		require.NoError(t, err)
		report := harness.Check(wantPub, recs)
		stored, ok = e.storedPosition(epochKey, epochChannel)
		require.True(t, ok, "run %d: a checkpoint is stored", run)
		t.Logf("run %d (%s, killed %v): missing %d (skipped, or not yet delivered at a kill), replayed %d, stored %d; %s", run, policy, killed,
			harness.Count(report.Missing), harness.Count(report.Unexpected), stored, report)
		assert.Empty(t, report.Unexpected, "run %d: replayed events acknowledged before", run)
		assert.Empty(t, report.DuplicatesWithinRun, "run %d: no redelivery inside the run", run)
		if killed {
			require.False(t, report.Complete(), "run %d: the kill must land mid-stream", run)
			assert.Less(t, stored, refused, "run %d: the kill left the new epoch's checkpoint", run)
			resumeAfter = stored
			continue
		}
		resumeAfter = last
		assert.Empty(t, report.Missing, "run %d: skipped events published after the last acknowledged one", run)
		assert.Equal(t, last, stored, "run %d: after the graceful stop the checkpoint is the last event, although below the refused %d", run, refused)
	}
}
