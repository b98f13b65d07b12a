package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The reshaped-batch scenario: one channel, a backlog of reshapeEvents
// events served reshapeBatch per connect answer, so the input reads
// reshapeEvents/reshapeBatch batches of reshapeBatch events.
const (
	reshapeChannel = "/event/Reshape__e"
	reshapeEvents  = 200
	reshapeBatch   = 20
	reshapeKey     = "reshape"
)

// reshapeOutput says how a case's output fails.
type reshapeOutput int

const (
	// sinkOnce posts each batch to an HTTP sink (multipart, no internal
	// retry) that answers 500 the first time a request holds a triggering
	// record it has not refused before.
	sinkOnce reshapeOutput = iota
	// switchRejectOnce sends a message to `reject` the first time its
	// content is seen (a memory cache remembers it), else to a file.
	switchRejectOnce
)

// TestReshapedBatchesLoseNothing: processors that split, merge or regroup
// the input's batches, followed by an output that fails once, lose no event.
// A nack makes the input deliver the whole original batch again, so an
// event is only acknowledged (and the checkpoint moves past it) once every
// message derived from it was written. Duplicates are bounded by the
// batches that were nacked: at most reshapeBatch per nacked input batch.
// After the graceful stop the checkpoint is the last event.
func TestReshapedBatchesLoseNothing(t *testing.T) {
	tests := []struct {
		name       string
		processors []any // after the mapping to Record lines
		output     reshapeOutput
		// trigger picks, by position in the backlog, the events whose
		// request fails the first time (nil: every one).
		trigger func(pos int) bool
	}{
		{
			name:       "split size 1 and every request failing once",
			processors: []any{map[string]any{"split": map[string]any{"size": 1}}},
			output:     sinkOnce,
		},
		{
			name:       "archive then switch to reject once",
			processors: []any{map[string]any{"archive": map[string]any{"format": "lines"}}},
			output:     switchRejectOnce,
		},
		{
			name:       "split size 1 and one message in 20 failing once",
			processors: []any{map[string]any{"split": map[string]any{"size": 1}}},
			output:     sinkOnce,
			trigger:    func(pos int) bool { return pos%reshapeBatch == 7 },
		},
		{
			name:       "group_by_value and every request failing once",
			processors: []any{map[string]any{"group_by_value": map[string]any{"value": "${! this.replay_id % 2 }"}}},
			output:     sinkOnce,
		},
		{
			name:       "split size 10 and every request failing once",
			processors: []any{map[string]any{"split": map[string]any{"size": 10}}},
			output:     sinkOnce,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			runReshaped(t, test.processors, test.output, test.trigger)
		})
	}
}

func runReshaped(t *testing.T, processors []any, output reshapeOutput, trigger func(pos int) bool) {
	e := newEnv(t, harness.EmulatorConfig{MaxBatch: reshapeBatch})
	ids, err := e.emu.PublishIDs(e.ctx, reshapeChannel, reshapeEvents, 1)
	require.NoError(t, err)
	want := harness.Published{reshapeChannel: ids}
	position := make(map[int64]int, len(ids))
	for i, id := range ids {
		position[id] = i
	}
	triggers := func(r harness.Record) bool {
		pos, ok := position[r.ReplayID]
		return ok && (trigger == nil || trigger(pos))
	}

	outPath, rejectsPath := e.path("out.jsonl"), e.path("rejects.jsonl")
	var out map[string]any
	var extra map[string]any
	var rejected func() []harness.Record // every record of a failed write
	steps := append([]any{map[string]any{"mapping": harness.RecordMapping}}, processors...)
	switch output {
	case sinkOnce:
		refused := map[harness.Record]bool{}
		sink, err := harness.StartSink(outPath, func(batch []harness.Record) bool {
			fresh := false
			for _, r := range batch {
				if triggers(r) && !refused[r] {
					refused[r], fresh = true, true
				}
			}
			return fresh
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sink.Close() })
		out = map[string]any{"http_client": map[string]any{
			"url": sink.URL, "verb": "POST", "batch_as_multipart": true, "max_in_flight": 1,
			"retries": 0, // a failure is a nack, not an internal retry
		}}
		rejected = func() []harness.Record {
			var all []harness.Record
			for _, b := range sink.Rejected() {
				all = append(all, b...)
			}
			return all
		}
	case switchRejectOnce:
		require.Nil(t, trigger, "the switch case rejects every message once")
		steps = append(steps,
			map[string]any{"mutation": `meta reject_key = content().hash("sha256").encode("hex")`},
			rejectOnce)
		out = map[string]any{"switch": map[string]any{"cases": []any{
			map[string]any{"check": `@reject == "yes"`, "continue": true, "output": fileOutput(rejectsPath)},
			map[string]any{"check": `@reject == "yes"`, "output": map[string]any{"reject": "rejected on first sight"}},
			map[string]any{"output": fileOutput(outPath)},
		}}}
		extra = map[string]any{
			"cache_resources": []any{map[string]any{"label": "seen", "memory": map[string]any{"compaction_interval": ""}}},
		}
		rejected = func() []harness.Record {
			recs, err := harness.ReadRecords(rejectsPath)
			require.NoError(t, err)
			return recs
		}
	}
	conf := recordPipeline(e.input(inputOpts{
		channels: []string{reshapeChannel}, preset: "earliest", key: reshapeKey,
	}), out, extra)
	conf["pipeline"].(map[string]any)["processors"] = steps
	last := idText(ids[len(ids)-1])
	proc := e.startBenthos("reshape", conf, e.fileCache())

	waitSettled(e.ctx, t, want, outPath, proc, func([]harness.Record) bool {
		stored, ok := e.fileCheckpoint(reshapeKey, reshapeChannel)
		return ok && stored == last
	})
	e.requireRetained(reshapeChannel, ids)
	e.stop(proc)
	recs, err := harness.ReadRecords(outPath) // with what arrived until the stop
	require.NoError(t, err)
	report := harness.Check(want, recs)
	failed := rejected()
	nacked := map[int]bool{} // input batches holding a record of a failed write
	for _, r := range failed {
		nacked[position[r.ReplayID]/reshapeBatch] = true
	}
	t.Logf("lost %d, duplicates %d; %d records in failed writes from %d input batches; %s",
		harness.Count(report.Missing), report.Duplicates[reshapeChannel], len(failed), len(nacked), report)

	require.NotEmpty(t, failed, "the output failed nothing: the case did not test nacks")
	assertNoLoss(t, report)
	assert.LessOrEqual(t, report.Duplicates[reshapeChannel], reshapeBatch*len(nacked),
		"duplicates are bounded by the nacked input batches (%d of %d events)", len(nacked), reshapeBatch)
	stored, ok := e.fileCheckpoint(reshapeKey, reshapeChannel)
	assert.True(t, ok, "a checkpoint is stored")
	assert.Equal(t, last, stored, "after the graceful stop the checkpoint is the last event")
}
