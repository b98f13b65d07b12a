package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestNackingOutput is the first half of acceptance criterion (b): outputs
// that reject messages, with auto_replay_nacks true. Every seventh replay id
// is rejected the first time the output sees it, so the retry passes. Two
// shapes of failure:
//
//   - whole batches: an HTTP endpoint answers 500 to a request (one input
//     batch, multipart) holding a chosen id it has not seen yet. With
//     checkpoint_limit 1 (one batch in flight per channel) the retry comes
//     before the next batch of its channel: no loss, no order violation.
//   - single messages: a switch output sends a chosen message to `reject`
//     (a memory cache remembers what it saw). Benthos retries only that
//     message, after its batch-mates and later batches, so that message
//     alone arrives late. No loss, and every other message stays in replay
//     order.
func TestNackingOutput(t *testing.T) {
	tests := []struct {
		name            string
		wholeBatch      bool
		checkpointLimit int
	}{
		{name: "whole batches with one batch in flight per channel", wholeBatch: true, checkpointLimit: 1},
		{name: "single messages", wholeBatch: false, checkpointLimit: 100},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			runNacking(t, test.wholeBatch, test.checkpointLimit)
		})
	}
}

// chosen marks the events the nacking outputs reject once.
func chosen(r harness.Record) bool { return r.ReplayID%7 == 0 }

// rejectOnce sets @reject to "yes" on the first sight of a message whose
// @reject_key is not empty and to "no" otherwise (the cache `add` fails for
// a key already seen).
var rejectOnce = map[string]any{"switch": []any{
	map[string]any{
		"check": `@reject_key != ""`,
		"processors": []any{
			map[string]any{"cache": map[string]any{"resource": "seen", "operator": "add", "key": "${! @reject_key }", "value": "1"}},
			map[string]any{"mapping": `meta reject = if errored() { "no" } else { "yes" }`},
			map[string]any{"catch": []any{}},
		},
	},
	map[string]any{"processors": []any{map[string]any{"mapping": `meta reject = "no"`}}},
}}

func runNacking(t *testing.T, wholeBatch bool, checkpointLimit int) {
	e := newEnv(t, harness.EmulatorConfig{MaxBatch: 20})
	channels := []string{"/event/Nack__e", "/topic/NackInvoices"}
	gaps := map[string]int{"/event/Nack__e": 1, "/topic/NackInvoices": 2}
	ledger := harness.NewLedger()
	for _, ch := range channels {
		ids, err := e.emu.PublishIDs(e.ctx, ch, 200, gaps[ch])
		require.NoError(t, err)
		ledger.Add(ch, ids...)
	}

	outPath, rejectsPath := e.path("out.jsonl"), e.path("rejects.jsonl")
	var output, extra map[string]any
	var readRejected func() []harness.Record
	if wholeBatch {
		seen := map[harness.Record]bool{}
		sink, err := harness.StartSink(outPath, func(batch []harness.Record) bool {
			fresh := false
			for _, r := range batch {
				if chosen(r) && !seen[r] {
					seen[r], fresh = true, true
				}
			}
			return fresh
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sink.Close() })
		output = map[string]any{"http_client": map[string]any{
			"url": sink.URL, "verb": "POST", "batch_as_multipart": true, "max_in_flight": 1,
			"retries": 0, // a failure is a nack, not an internal retry
		}}
		readRejected = func() []harness.Record {
			var all []harness.Record
			for _, b := range sink.Rejected() {
				for _, r := range b {
					if chosen(r) {
						all = append(all, r)
					}
				}
			}
			return all
		}
	} else {
		output = map[string]any{"switch": map[string]any{"cases": []any{
			map[string]any{"check": `@reject == "yes"`, "continue": true, "output": fileOutput(rejectsPath)},
			map[string]any{"check": `@reject == "yes"`, "output": map[string]any{"reject": "rejected on first sight: ${! @reject_key }"}},
			map[string]any{"output": fileOutput(outPath)},
		}}}
		extra = map[string]any{
			"cache_resources": []any{map[string]any{"label": "seen", "memory": map[string]any{"compaction_interval": ""}}},
		}
		readRejected = func() []harness.Record {
			recs, err := harness.ReadRecords(rejectsPath)
			require.NoError(t, err)
			return recs
		}
	}
	conf := recordPipeline(e.input(inputOpts{
		channels: channels, preset: "earliest", key: "nack", checkpointLimit: checkpointLimit, autoReplayNacks: ptr(true),
	}), output, extra)
	if !wholeBatch {
		pipeline := conf["pipeline"].(map[string]any)
		pipeline["processors"] = append(pipeline["processors"].([]any),
			map[string]any{"mapping": `meta reject_key = if this.replay_id % 7 == 0 { "%s:%d".format(this.channel, this.replay_id) } else { "" }`},
			rejectOnce)
	}
	proc := e.startBenthos("nack", conf, e.fileCache())

	require.NoError(t, e.emu.PublishRounds(e.ctx, ledger, harness.Rounds{
		Channels: channels, Gaps: gaps, PerRound: 20, Rounds: 10, Interval: 50 * time.Millisecond,
	}))
	want := ledger.Published()
	recs, report := waitComplete(e.ctx, t, want, nil, outPath, proc)
	e.stop(proc)
	rejected := readRejected()
	t.Logf("%d records, %d chosen events rejected; %s", len(recs), len(rejected), report)

	require.NotEmpty(t, rejected, "the output rejected nothing: the scenario did not test nacks")
	assert.Empty(t, report.Missing, "no loss")
	assert.Empty(t, report.Unexpected, "only published ids")
	delivered := map[harness.Record]bool{}
	for _, r := range recs {
		delivered[r] = true
	}
	for _, r := range rejected {
		assert.True(t, delivered[r], "rejected %v is delivered after the nack", r)
	}
	if wholeBatch {
		assert.Empty(t, report.Order, "no order violation: a nacked batch is redelivered before the next batch of its channel")
		return
	}
	wasRejected := map[harness.Record]bool{}
	for _, r := range rejected {
		wasRejected[r] = true
	}
	for _, v := range report.Order {
		assert.True(t, wasRejected[harness.Record{Channel: v.Channel, ReplayID: v.ReplayID}],
			"only a rejected message may arrive after later ones: %s", v)
	}
	var others []harness.Record
	for _, r := range recs {
		if !wasRejected[r] {
			others = append(others, r)
		}
	}
	assert.Empty(t, harness.Check(want, others).Order, "every message that was not rejected is in replay order")
}

// TestSlowOutput is the second half of acceptance criterion (b): an output
// that stalls longer than the emulator's reconnect window, with a small
// client buffer, loses nothing, keeps order, and the session is never expired
// by the server (polling does not wait on the pipeline).
func TestSlowOutput(t *testing.T) {
	t.Parallel()
	const (
		window = 3 * time.Second
		stall  = 4 * time.Second // > window
	)
	e := newEnv(t, harness.EmulatorConfig{ReconnectWindow: window, MaxBatch: 20})
	channels := []string{"/event/Slow__e", "/data/SlowChangeEvent"}
	gaps := map[string]int{"/event/Slow__e": 1, "/data/SlowChangeEvent": 3}
	ledger := harness.NewLedger()
	for _, ch := range channels {
		ids, err := e.emu.PublishIDs(e.ctx, ch, 100, gaps[ch])
		require.NoError(t, err)
		ledger.Add(ch, ids...)
	}
	// Two stalls, on known events of the first channel: one in the backlog,
	// one among the events published while the pipeline runs.
	first := ledger.Published()[channels[0]]
	stallAt := []int64{first[30], first[len(first)-1] + 150}
	outPath := e.path("out.jsonl")
	output := fileOutput(outPath)
	output["processors"] = []any{map[string]any{"sleep": map[string]any{
		"duration": fmt.Sprintf(`${! if @salesforce_channel == %q && [%d, %d].contains(@salesforce_replay_id.number()) { "%s" } else { "0s" } }`,
			channels[0], stallAt[0], stallAt[1], stall),
	}}}
	conf := recordPipeline(e.input(inputOpts{
		channels: channels, preset: "earliest", key: "slow", checkpointLimit: 50, maxBuffered: 100,
	}), output, nil)
	proc := e.startBenthos("slow", conf, e.fileCache())

	// 10 events per channel every 100 ms for 5 s: events keep coming while
	// the output stalls, so the client's buffer fills up.
	require.NoError(t, e.emu.PublishRounds(e.ctx, ledger, harness.Rounds{
		Channels: channels, Gaps: gaps, PerRound: 10, Rounds: 50, Interval: 100 * time.Millisecond,
	}))
	want := ledger.Published()
	require.Contains(t, want[channels[0]], stallAt[1], "the second stall is on a published event")
	recs, report := waitComplete(e.ctx, t, want, nil, outPath, proc)
	st, err := e.emu.State(e.ctx)
	require.NoError(t, err)
	e.stop(proc)
	t.Logf("%d records; %s; emulator counters %v", len(recs), report, st.Counters)

	assert.Empty(t, report.Missing, "no loss")
	assert.Empty(t, report.Unexpected, "only published ids")
	assert.Empty(t, report.Order, "no order violation")
	assert.Zero(t, st.Counters["clients_expired"], "no session expired for silence: the client polls while the output stalls")
	assert.Zero(t, st.Counters["unknown_client_replies"], "the server never had to answer 403::Unknown client")
	assert.GreaterOrEqual(t, st.Counters["handshakes"], int64(2),
		"the stalls filled max_buffered_events, so the client disconnected and resumed: the scenario exercised that path")
	assert.Empty(t, logLines(proc.Output(), "error"), "nothing went wrong enough to log an error (e.g. the sleep mapping)")
}
