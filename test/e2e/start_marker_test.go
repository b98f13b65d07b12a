package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The start marker end to end: a first start with replay_preset latest,
// killed before any acknowledgement, must not restart at latest again.

// startMarkerChannels: a platform event (its time is the payload's
// CreatedDate) and a change event (its commit time), with id gaps.
var startMarkerChannels = map[string]int{"/event/StartMark__e": 2, "/data/StartMarkChangeEvent": 3}

// neverAcks writes each record to path and never acknowledges it: the
// broker retries the rejecting output for as long as the process lives.
func neverAcks(path string) map[string]any {
	return map[string]any{"broker": map[string]any{"pattern": "fan_out", "outputs": []any{
		fileOutput(path),
		map[string]any{"reject": "never acknowledged"},
	}}}
}

// TestStartMarkerSurvivesKill: over both APIs and under every
// on_invalid_replay_id policy, a first start from latest hands out events
// that are never acknowledged, and is killed -9. Events are published while
// it is down. The restart delivers, id by id, every event published after
// the first subscription reached the server, and nothing of the history
// before it (the start marker resumes from the earliest event and drops
// that history); after a graceful stop the marker is replaced by the last
// event's position.
func TestStartMarkerSurvivesKill(t *testing.T) {
	channels := make([]string, 0, len(startMarkerChannels))
	for ch := range startMarkerChannels {
		channels = append(channels, ch)
	}
	slices.Sort(channels)
	for _, api := range []string{"cometd", "pubsub"} {
		for _, test := range invalidReplayPolicies {
			t.Run(api+"/"+test.policy, func(t *testing.T) {
				t.Parallel()
				runStartMarkerKill(t, api, test.policy, channels)
			})
		}
	}
}

func runStartMarkerKill(t *testing.T, api, policy string, channels []string) {
	var e *env
	var addr string
	if api == "pubsub" {
		e, addr = pubsubEnv(t, harness.EmulatorConfig{})
	} else {
		e = newEnv(t, harness.EmulatorConfig{})
	}
	key := "mark_" + api + "_" + policy
	resources := e.fileCache()
	pipeline := func(output map[string]any) map[string]any {
		o := inputOpts{channels: channels, preset: "latest", onInvalid: policy, key: key}
		if api == "pubsub" {
			return e.pubsubPipeline(addr, o, output)
		}
		return recordPipeline(e.input(o), output, nil)
	}
	checkpoint := func(ch string) (checkpointfmt.Position, bool) {
		if api == "pubsub" {
			return e.pubsubPosition(key, ch)
		}
		return readCheckpoint(t, e.fileCacheValue, key, ch)
	}
	publish := func(ledger *harness.Ledger, n int) {
		for _, ch := range channels {
			ids, err := e.emu.PublishIDs(e.ctx, ch, n, startMarkerChannels[ch])
			require.NoError(t, err)
			ledger.Add(ch, ids...)
		}
	}

	history := harness.NewLedger() // before the first subscription: owed to no run
	publish(history, 10)
	// A change event's commit time has whole seconds: the history is
	// created in an earlier second than anything due, so none of it may
	// come again.
	time.Sleep(1100 * time.Millisecond)
	run1Path, run2Path := e.path("run1.jsonl"), e.path("run2.jsonl")
	run1 := e.startBenthos("run1", pipeline(neverAcks(run1Path)), resources)

	// Nothing says when a subscription from latest reached the server:
	// publish a probe per channel until one arrives. That probe and every
	// event after it are owed; the probes before it are not.
	due := harness.NewLedger()
	var early []int64 // probes before the first arrival
	probes := map[string][]int64{}
	arrived := map[string]bool{}
	for len(arrived) < len(channels) {
		require.NoError(t, e.ctx.Err(), "no probe reached run 1")
		for _, ch := range channels {
			if arrived[ch] {
				continue
			}
			ids, err := e.emu.PublishIDs(e.ctx, ch, 1, startMarkerChannels[ch])
			require.NoError(t, err)
			probes[ch] = append(probes[ch], ids...)
		}
		time.Sleep(200 * time.Millisecond)
		recs, err := harness.ReadRecords(run1Path)
		require.NoError(t, err)
		for _, ch := range channels {
			if arrived[ch] {
				continue
			}
			for _, r := range recs {
				if r.Channel == ch {
					first := slices.Index(probes[ch], r.ReplayID)
					require.GreaterOrEqual(t, first, 0, "%s: run 1's first record is a probe: %v", ch, r)
					due.Add(ch, probes[ch][first:]...)
					early = append(early, probes[ch][:first]...)
					arrived[ch] = true
					break
				}
			}
		}
	}
	// More events while run 1 holds the first ones unacknowledged (its
	// output takes a few before the retries of the rejected ones hold it).
	publish(due, 10)
	time.Sleep(2 * time.Second)
	handed, err := harness.ReadRecords(run1Path)
	require.NoError(t, err)
	t.Logf("run 1 handed out %d records, none acknowledged", len(handed))
	for _, ch := range channels {
		pos, ok := checkpoint(ch)
		assert.True(t, ok && pos.Start, "%s: before any acknowledgement the checkpoint is a start marker: %+v (stored: %v)", ch, pos, ok)
	}
	require.NoError(t, run1.Kill())

	publish(due, 10) // while it is down
	run2 := e.startBenthos("run2", pipeline(fileOutput(run2Path)), resources)
	want := due.Published()
	ctx, cancel := context.WithTimeout(e.ctx, deliverWait)
	recs, err := harness.WaitRecords(ctx, run2Path, func(recs []harness.Record) bool {
		return harness.Check(want, recs).Complete()
	})
	cancel()
	report := harness.Check(want, recs) // run 1 acknowledged nothing: run 2 alone owes every due event
	t.Logf("%s, on_invalid_replay_id %s: %s", api, policy, report)
	require.NoError(t, err, "every event published after the first subscription arrives after the restart: %s", report)
	assert.Empty(t, report.Missing)
	assert.Empty(t, report.Order)
	assert.Empty(t, report.DuplicatesWithinRun)
	for ch, ids := range report.Unexpected {
		for _, id := range ids {
			// Only a probe published before the subscription, created in
			// the very millisecond of the first due one (the very second for
			// a change event: commit times have whole seconds), may come
			// again (at least once); the history never.
			assert.Contains(t, early, id, "%s: %d is history from before the first subscription", ch, id)
		}
	}
	e.stop(run2)
	for _, ch := range channels {
		last, _ := due.Last(ch)
		pos, ok := checkpoint(ch)
		require.True(t, ok, "%s: a checkpoint is stored", ch)
		assert.False(t, pos.Start, "%s: the first acknowledgements replaced the marker", ch)
		if api == "pubsub" {
			id, _ := e.pubsubCheckpoint(key, ch)
			assert.Equal(t, last, id, "%s: the checkpoint is the last event", ch)
		} else {
			assert.Equal(t, last, pos.ID, "%s: the checkpoint is the last event", ch)
		}
	}
}
