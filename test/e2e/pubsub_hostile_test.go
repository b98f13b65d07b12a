package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
	"github.com/salesforce-streaming/salesforce_streaming/test/hostilepubsub"
)

// TestPubSubHostileKillAndResume: bin/benthos against a misbehaving Pub/Sub server (the hostile server in the
// test tree; tokens from bin/sfemu), killed with -9 while the misbehaviour is under way, then restarted from its
// stored checkpoint: every event arrives, none is skipped by a position the server made up (a keepalive ahead
// of delivery), and duplicates are only the killed run's events after its stored checkpoint.
func TestPubSubHostileKillAndResume(t *testing.T) {
	for _, mode := range []hostilepubsub.Mode{hostilepubsub.KeepaliveAhead, hostilepubsub.Flood,
		hostilepubsub.LyingPending, hostilepubsub.Duplicates} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, harness.EmulatorConfig{})
			srv, err := hostilepubsub.Start(hostilepubsub.Config{Mode: mode, AheadPause: 4 * time.Second, Pace: 150 * time.Millisecond})
			require.NoError(t, err)
			t.Cleanup(srv.Close)
			topic, key := srv.Topic(), "hostile"
			ledger := harness.NewLedger()
			for n := int64(1); n <= 200; n++ {
				ledger.Add(topic, n)
			}
			resources := e.fileCache()
			pipeline := func(out string) map[string]any {
				return e.pubsubPipeline(srv.Addr(), inputOpts{channels: []string{topic}, preset: "earliest", key: key,
					checkpointLimit: 20}, fileOutput(out))
			}
			run1Path, run2Path := e.path("run1.jsonl"), e.path("run2.jsonl")
			run1 := e.startBenthos("run1", pipeline(run1Path), resources)
			waitCtx, cancel := context.WithTimeout(e.ctx, deliverWait)
			killAt := 30
			if mode == hostilepubsub.KeepaliveAhead {
				killAt = 10
			}
			_, err = harness.WaitRecords(waitCtx, run1Path, func(recs []harness.Record) bool { return len(recs) >= killAt })
			cancel()
			require.NoError(t, err)
			if mode == hostilepubsub.KeepaliveAhead {
				time.Sleep(1500 * time.Millisecond) // its keepalive ahead has come, the rest has not
			}
			require.NoError(t, run1.Kill())
			first, err := harness.ReadRecords(run1Path)
			require.NoError(t, err)
			require.Less(t, len(first), 200, "the kill must land mid-stream")
			stored, hasStored := e.pubsubCheckpoint(key, topic)
			if hasStored {
				assert.LessOrEqual(t, stored, maxID(first), "the checkpoint at the kill names a delivered event")
			}

			run2 := e.startBenthos("run2", pipeline(run2Path), resources)
			want := ledger.Published()
			waitComplete(e.ctx, t, want, [][]harness.Record{first}, run2Path, run2)
			e.stop(run2)
			second, err := harness.ReadRecords(run2Path)
			require.NoError(t, err)
			report := harness.Check(want, first, second)
			t.Logf("%s: killed after %d records (checkpoint %d); %s; %d subscribes", mode, len(first), stored, report, srv.Stats().Subscribes)
			assert.Empty(t, report.Missing, "every event is delivered")
			assert.Empty(t, report.Unexpected)
			assert.Empty(t, report.DuplicatesWithinRun)
			for _, r := range second {
				if hasStored && r.ReplayID <= stored {
					t.Errorf("run 2 redelivered %d, at or before the stored checkpoint %d", r.ReplayID, stored)
				}
			}
		})
	}
}

func maxID(recs []harness.Record) int64 {
	var m int64
	for _, r := range recs {
		m = max(m, r.ReplayID)
	}
	return m
}
