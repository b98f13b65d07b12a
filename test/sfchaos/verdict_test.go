package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// passingResult is a soak in which everything went right.
func passingResult() result {
	published := harness.Published{"/u/A": {1, 2, 3}, "/topic/T": {5, 9}}
	runs := [][]harness.Record{
		{rec("/u/A", 1), rec("/u/A", 2), rec("/topic/T", 5)},
		{rec("/u/A", 2), rec("/u/A", 3), rec("/topic/T", 9)},
	}
	return result{
		opts:          options{minFaults: 3, minRestarts: 1, drainTimeout: time.Minute, seed: 5, duration: time.Minute, rate: 1},
		channels:      []channelSpec{{Configured: "/u/A", Base: "/u/A"}, {Configured: "/topic/T?S=x", Base: "/topic/T"}},
		report:        harness.Check(published, runs...),
		records:       6,
		firstRetained: map[string]int64{"/u/A": 1, "/topic/T": 5},
		lastExpected:  map[string]int64{"/u/A": 3, "/topic/T": 9},
		checkpoints:   map[string]string{"/u/A": "3", "/topic/T": "9"},
		faults:        map[string]int{"unknown_client": 2, "daily_limit": 1},
		kills:         1,
		runs:          2,
		drained:       true,
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name        string
		change      func(r *result)
		wantFailure string // "" passes
		wantLost    int
	}{
		{name: "passes", change: func(*result) {}},
		{
			name: "a retained event never delivered is lost",
			change: func(r *result) {
				r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3, 4}}, []harness.Record{rec("/u/A", 1), rec("/u/A", 2), rec("/u/A", 3)})
				r.lastExpected = map[string]int64{"/u/A": 4}
				r.checkpoints = map[string]string{"/u/A": "4"}
			},
			wantFailure: "lost 1 retained events (streaming 1): /u/A [4]", wantLost: 1,
		},
		{
			name: "an event delivered over CometD but not over Pub/Sub is lost over Pub/Sub",
			change: func(r *result) {
				r.channels = append(r.channels, channelSpec{Configured: "/event/E__e", Base: "pubsub:/event/E__e", Source: "/event/E__e", API: apiPubSub})
				r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3}, "pubsub:/event/E__e": {7, 8}},
					[]harness.Record{rec("/u/A", 1), rec("/u/A", 2), rec("/u/A", 3), rec("pubsub:/event/E__e", 7)})
				r.firstRetained["pubsub:/event/E__e"] = 7
				r.lastExpected = map[string]int64{"/u/A": 3, "pubsub:/event/E__e": 8}
				r.checkpoints = map[string]string{"/u/A": "3", "pubsub:/event/E__e": "8"}
			},
			wantFailure: "lost 1 retained events (streaming 0, pubsub 1): pubsub:/event/E__e [8]", wantLost: 1,
		},
		{
			name: "an event no longer retained is not lost",
			change: func(r *result) {
				r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3}}, []harness.Record{rec("/u/A", 2), rec("/u/A", 3)})
				r.firstRetained = map[string]int64{"/u/A": 2}
				r.lastExpected = map[string]int64{"/u/A": 3}
			},
		},
		{
			name: "disorder within a run fails",
			change: func(r *result) {
				r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3}}, []harness.Record{rec("/u/A", 1), rec("/u/A", 3), rec("/u/A", 2)})
				r.lastExpected = map[string]int64{"/u/A": 3}
			},
			wantFailure: "1 events out of replay order within a run whose output refused nothing: run 1 /u/A: 2 after 3",
		},
		{
			name: "disorder within a run whose output refused requests is a nack's redelivery",
			change: func(r *result) {
				r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3}}, []harness.Record{rec("/u/A", 1), rec("/u/A", 3), rec("/u/A", 2)})
				r.lastExpected = map[string]int64{"/u/A": 3}
				r.refusedBy = map[int]int{1: 1}
			},
		},
		{
			name: "disorder in another run than the refusing one still fails",
			change: func(r *result) {
				r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3}}, []harness.Record{rec("/u/A", 1), rec("/u/A", 3), rec("/u/A", 2)})
				r.lastExpected = map[string]int64{"/u/A": 3}
				r.refusedBy = map[int]int{2: 1}
			},
			wantFailure: "1 events out of replay order within a run whose output refused nothing: run 1 /u/A: 2 after 3",
		},
		{
			name: "an event retained after its publish and gone at the end is lost",
			change: func(r *result) {
				at := time.Unix(100, 0)
				r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3}}, []harness.Record{rec("/u/A", 2), rec("/u/A", 3)})
				r.firstRetained = map[string]int64{"/u/A": 2}
				r.lastExpected = map[string]int64{"/u/A": 3}
				r.times = pubTimes{"/u/A": {{ID: 1, At: at}, {ID: 2, At: at}, {ID: 3, At: at}}}
				r.retention = []retentionSample{
					{At: at.Add(-time.Second), First: map[string]int64{}},
					{At: at.Add(time.Second), First: map[string]int64{"/u/A": 1}},
				}
			},
			wantFailure: "lost 1 retained events (streaming 1): /u/A [1]", wantLost: 1,
		},
		{
			name: "an event gone by the first sample after its publish is not lost",
			change: func(r *result) {
				at := time.Unix(100, 0)
				r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3}}, []harness.Record{rec("/u/A", 2), rec("/u/A", 3)})
				r.firstRetained = map[string]int64{"/u/A": 2}
				r.lastExpected = map[string]int64{"/u/A": 3}
				r.times = pubTimes{"/u/A": {{ID: 1, At: at}, {ID: 2, At: at}, {ID: 3, At: at}}}
				r.retention = []retentionSample{{At: at.Add(time.Second), First: map[string]int64{"/u/A": 2}}}
			},
		},
		{
			name:   "a checkpoint of a later epoch is read by its replay id",
			change: func(r *result) { r.checkpoints["/u/A"] = "3@1" },
		},
		{
			name: "an event excluded by the filter must not arrive",
			change: func(r *result) {
				r.report = harness.Check(harness.Published{"/u/A": {1}}, []harness.Record{rec("/u/A", 1), rec("/u/A", 2)})
				r.lastExpected = map[string]int64{"/u/A": 1}
				r.checkpoints = map[string]string{"/u/A": "1"}
			},
			wantFailure: "1 records of events never published or excluded by the filter: /u/A [2]",
		},
		{
			name:        "too few faults",
			change:      func(r *result) { r.faults = map[string]int{"unknown_client": 2} },
			wantFailure: "only 2 faults injected, want at least 3",
		},
		{
			name:        "too few restarts",
			change:      func(r *result) { r.kills = 0 },
			wantFailure: "only 0 restarts, want at least 1",
		},
		{
			name: "drain incomplete",
			change: func(r *result) {
				r.drained = false
				r.report = harness.Check(harness.Published{"/u/A": {1, 2}}, []harness.Record{rec("/u/A", 1)})
			},
			wantFailure: "the drain did not complete within 1m0s: /u/A [2]", wantLost: 1,
		},
		{
			name:        "checkpoint behind after the final stop",
			change:      func(r *result) { r.checkpoints["/u/A"] = "2" },
			wantFailure: "checkpoint of /u/A after the final graceful stop is 2, want 3 (its last event)",
		},
		{
			name:        "an unplanned exit fails",
			change:      func(r *result) { r.unplanned = 1 },
			wantFailure: "bin/benthos exited on its own 1 times",
		},
		{
			name:        "problems fail with their first line",
			change:      func(r *result) { r.problems = []string{"the sink refused a request: x\nlog lines"} },
			wantFailure: "the sink refused a request: x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := passingResult()
			tt.change(&r)
			v := r.judge()
			assert.Equal(t, tt.wantLost, harness.Count(v.Lost))
			if tt.wantFailure == "" {
				assert.True(t, v.OK(), "failures: %v", v.Failures)
				return
			}
			assert.False(t, v.OK())
			assert.Contains(t, v.Failures, tt.wantFailure)
		})
	}
}

func TestSummaryShowsTheFigures(t *testing.T) {
	r := passingResult()
	r.recoveries = []recovery{{incident: incident{Kind: "unknown_client"}, After: 1500 * time.Millisecond, Recovered: true, Measurable: true}}
	var out bytes.Buffer
	r.writeSummary(&out, r.judge())
	s := out.String()
	for _, want := range []string{
		"seed 5", "events published  5", "lost              0", "(retained, never delivered; streaming 0)", "duplicates        1",
		"restarts          1", "p50 1.50s", "unknown_client", "revoke_tokens", "PASS",
	} {
		assert.Contains(t, s, want)
	}

	r.checkpoints["/u/A"] = "1"
	out.Reset()
	r.writeSummary(&out, r.judge())
	assert.True(t, strings.Contains(out.String(), "FAIL\n  - checkpoint of /u/A"), out.String())
}

func TestSummaryShowsEachAPI(t *testing.T) {
	r := passingResult()
	var out bytes.Buffer
	r.writeSummary(&out, r.judge())
	assert.NotContains(t, out.String(), "Pub/Sub", "a CometD-only soak says nothing of Pub/Sub")

	r.channels = append(r.channels, channelSpec{Configured: "/event/E__e", Base: "pubsub:/event/E__e", Source: "/event/E__e", API: apiPubSub})
	r.report = harness.Check(harness.Published{"/u/A": {1, 2, 3}, "/topic/T": {5, 9}, "pubsub:/event/E__e": {7, 8}},
		[]harness.Record{rec("/u/A", 1), rec("/u/A", 2), rec("/u/A", 3), rec("/topic/T", 5), rec("/topic/T", 9), rec("pubsub:/event/E__e", 7), rec("pubsub:/event/E__e", 8)})
	r.lastExpected["pubsub:/event/E__e"] = 8
	r.checkpoints["pubsub:/event/E__e"] = "8"
	r.pubsubRecov = []recovery{{incident: incident{Kind: "kill -9"}, After: 2500 * time.Millisecond, Recovered: true, Measurable: true}}
	out.Reset()
	r.writeSummary(&out, r.judge())
	s := out.String()
	for _, want := range []string{
		"also over Pub/Sub  2", "streaming 0, pubsub 0", "over Pub/Sub       p50 2.50s",
		"pubsub     /event/E__e", "streaming  /u/A", "PASS",
	} {
		assert.Contains(t, s, want)
	}
}
