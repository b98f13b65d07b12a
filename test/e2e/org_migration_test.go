package e2e

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestOrgMigrationWhileDown: the pipeline stops with its checkpoint at the
// last event of a channel; while it is down the org migrates (replay ids
// restart below the old ones) and the new sequence passes the stored id.
// Resuming after that id would skip the new events below it without a
// word. The input must notice the migration (the org's instance changed)
// and apply on_invalid_replay_id as for a refused replay id, with an error
// log: earliest delivers the whole new sequence, latest only what is
// published after the restart, fail nothing (and keeps the checkpoint).
// Both APIs, each policy.
func TestOrgMigrationWhileDown(t *testing.T) {
	for _, api := range []string{"cometd", "pubsub"} {
		for _, test := range invalidReplayPolicies {
			t.Run(api+"/"+test.policy, func(t *testing.T) {
				t.Parallel()
				channel := "/event/Migrated__e"
				var e *env
				var pipeline func(out string) map[string]any
				key := "migrated_" + test.policy
				opts := inputOpts{channels: []string{channel}, preset: "earliest", onInvalid: test.policy, key: key}
				var stored func() (int64, int64, bool) // id, epoch
				if api == "pubsub" {
					var addr string
					e, addr = pubsubEnv(t, harness.EmulatorConfig{})
					pipeline = func(out string) map[string]any { return e.pubsubPipeline(addr, opts, fileOutput(out)) }
					stored = func() (int64, int64, bool) {
						id, ok := e.pubsubCheckpoint(key, channel)
						pos, _ := e.pubsubPosition(key, channel)
						return id, pos.Epoch, ok
					}
				} else {
					e = newEnv(t, harness.EmulatorConfig{})
					pipeline = func(out string) map[string]any { return recordPipeline(e.input(opts), fileOutput(out), nil) }
					stored = func() (int64, int64, bool) {
						pos, ok := readCheckpoint(t, e.fileCacheValue, key, channel)
						return pos.ID, pos.Epoch, ok
					}
				}
				resources := e.fileCache()

				old, err := e.emu.PublishIDs(e.ctx, channel, 20, 2)
				require.NoError(t, err)
				run1Path := e.path("run1.jsonl")
				run1 := e.startBenthos("run1", pipeline(run1Path), resources)
				waitComplete(e.ctx, t, harness.Published{channel: old}, nil, run1Path, run1)
				e.stop(run1)
				checkpoint := old[len(old)-1]
				id, _, ok := stored()
				require.True(t, ok, "run 1 stored a checkpoint")
				require.Equal(t, checkpoint, id)

				// While down: the migration, then a new sequence whose ids
				// pass the stored one halfway.
				migrated, err := e.emu.MigrateOrg(e.ctx)
				require.NoError(t, err)
				next := migrated[channel].NextReplayIDFrom
				require.Less(t, next, old[0], "replay ids restart below the old ones")
				const n = 30
				gap := int((checkpoint-next)/(n/2) + 1)
				fresh, err := e.emu.PublishIDs(e.ctx, channel, n, gap)
				require.NoError(t, err)
				below := 0
				for _, id := range fresh {
					if id <= checkpoint {
						below++
					}
				}
				require.Greater(t, below, 5, "the new sequence has events at or below the stored id")
				require.Greater(t, fresh[len(fresh)-1], checkpoint, "the new sequence passed the stored id")

				run2Path := e.path("run2.jsonl")
				run2 := e.startBenthos("run2", pipeline(run2Path), resources)
				logCtx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
				defer cancel()
				line, err := run2.WaitOutput(logCtx, func(line string) bool { return len(logLines(line, "error", "org migration")) > 0 })
				require.NoError(t, err, "an error log names the org migration")
				t.Logf("error log: %s", line)

				var live []int64
				if test.policy == "latest" {
					live = publishUntilLive(t, e, channel, run2Path)
				}
				after, err := e.emu.PublishIDs(e.ctx, channel, 10, 2)
				require.NoError(t, err)
				want := harness.Published{channel: test.expected(fresh, append(live, after...))}
				recs := waitDue(e.ctx, t, want, run2Path, run2)
				report := harness.Check(want, recs)
				t.Logf("checkpoint %d; new sequence %d events (%d at or below it); %s", checkpoint, len(fresh), below, report)
				assert.Empty(t, report.Missing, "every event the policy promises is delivered")
				assert.Empty(t, report.Unexpected, "nothing the policy excludes is delivered")
				assert.Empty(t, report.Order, "in replay order")
				e.stop(run2)
				id, epoch, _ := stored()
				if test.policy == "fail" {
					assert.Equal(t, checkpoint, id, "fail keeps the stored checkpoint for an operator")
					assert.Zero(t, epoch)
					_, statErr := os.Stat(run2Path)
					assert.True(t, os.IsNotExist(statErr) || len(recs) == 0, "fail delivers nothing")
					return
				}
				assert.Equal(t, int64(1), epoch, "the new sequence is checkpointed in a new epoch")
				assert.Equal(t, want[channel][len(want[channel])-1], id, "the checkpoint is the last event delivered")

				// A restart resumes in the new sequence: no second fallback.
				more, err := e.emu.PublishIDs(e.ctx, channel, 5, 2)
				require.NoError(t, err)
				run3Path := e.path("run3.jsonl")
				run3 := e.startBenthos("run3", pipeline(run3Path), resources)
				recs3, report3 := waitComplete(e.ctx, t, harness.Published{channel: more}, nil, run3Path, run3)
				assert.Empty(t, report3.Unexpected, "the restart replays nothing: %s", report3)
				assert.Len(t, recs3, len(more))
				assert.Empty(t, logLines(run3.Output(), "error", "org migration"), "the migration is handled once")
				e.stop(run3)
			})
		}
	}
}

// publishUntilLive publishes probes on channel until one reaches out (a
// subscription from latest is live from then on) and returns the probes
// from that one on, all of which must be delivered.
func publishUntilLive(t *testing.T, e *env, channel, out string) []int64 {
	t.Helper()
	var probes []int64
	for e.ctx.Err() == nil {
		ids, err := e.emu.PublishIDs(e.ctx, channel, 1, 2)
		require.NoError(t, err)
		probes = append(probes, ids...)
		time.Sleep(100 * time.Millisecond)
		recs, err := harness.ReadRecords(out)
		require.NoError(t, err)
		if len(recs) > 0 {
			first := slices.Index(probes, recs[0].ReplayID)
			require.GreaterOrEqual(t, first, 0, "the first record after the fallback to latest is a probe: %v", recs[0])
			return probes[first:]
		}
	}
	t.Fatalf("no probe reached %s", out)
	return nil
}
