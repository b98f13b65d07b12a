package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMeasureRecoveries(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	pubs := pubTimes{
		"/u/A": {{1, at(0)}, {2, at(1000)}, {3, at(2000)}, {4, at(3000)}},
		"/u/B": {{10, at(500)}, {11, at(1500)}},
	}
	pubs["/u/C"] = []pubEntry{{100, at(3300)}}
	deliveries := []delivery{
		{Channel: "/u/A", ReplayID: 1, At: at(100)},
		{Channel: "/u/B", ReplayID: 10, At: at(1200)}, // published before the 1000 ms incident
		{Channel: "/u/A", ReplayID: 2, At: at(1900)},
		{Channel: "/u/B", ReplayID: 11, At: at(1700)},
		{Channel: "/u/A", ReplayID: 3, At: at(4000)},
		{Channel: "/u/A", ReplayID: 4, At: at(4100)},
	}
	tests := []struct {
		name       string
		at         int
		want       time.Duration
		recovered  bool
		measurable bool
	}{
		{"first event after it, same channel", 0, 100 * time.Millisecond, true, true},
		{"in-flight events do not count; the earliest channel wins", 1000, 700 * time.Millisecond, true, true},
		{"events published before it do not count when delivered after it", 1600, 2400 * time.Millisecond, true, true},
		{"published after it, never delivered", 3200, 0, false, true},
		{"nothing published after it", 3500, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := measureRecoveries([]incident{{Kind: "x", At: at(tt.at)}}, pubs, deliveries)
			require.Len(t, rs, 1)
			assert.Equal(t, tt.recovered, rs[0].Recovered)
			assert.Equal(t, tt.measurable, rs[0].Measurable)
			assert.Equal(t, tt.want, rs[0].After)
		})
	}
}

func TestMeasureRecoveriesSkipsRedeliveredOldEvents(t *testing.T) {
	// After a restart the replay of old events arrives first; recovery is
	// when something published after the kill arrives.
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pubs := pubTimes{"/u/A": {{1, t0}, {2, t0.Add(time.Second)}}}
	deliveries := []delivery{
		{Run: 2, Channel: "/u/A", ReplayID: 1, At: t0.Add(2 * time.Second)},
		{Run: 2, Channel: "/u/A", ReplayID: 2, At: t0.Add(3 * time.Second)},
	}
	rs := measureRecoveries([]incident{{Kind: "kill -9", At: t0.Add(500 * time.Millisecond)}}, pubs, deliveries)
	require.Len(t, rs, 1)
	assert.Equal(t, 2500*time.Millisecond, rs[0].After)
}

func TestSummarizeRecoveries(t *testing.T) {
	s := time.Second
	rs := []recovery{
		{incident: incident{Kind: "b"}, After: 3 * s, Recovered: true, Measurable: true},
		{incident: incident{Kind: "a"}, After: 1 * s, Recovered: true, Measurable: true},
		{incident: incident{Kind: "a"}, After: 5 * s, Recovered: true, Measurable: true},
		{incident: incident{Kind: "a"}, After: 2 * s, Recovered: true, Measurable: true},
		{incident: incident{Kind: "a"}, Recovered: false, Measurable: true},
		{incident: incident{Kind: "a"}, Recovered: false}, // at the end: left out
		{incident: incident{Kind: "c"}, Recovered: false}, // at the end: left out
	}
	perKind, all := summarizeRecoveries(rs)
	require.Len(t, perKind, 2)
	assert.Equal(t, recoveryStats{Kind: "a", Count: 4, Recovered: 3, P50: 2 * s, Max: 5 * s}, perKind[0])
	assert.Equal(t, recoveryStats{Kind: "b", Count: 1, Recovered: 1, P50: 3 * s, Max: 3 * s}, perKind[1])
	assert.Equal(t, recoveryStats{Kind: "all", Count: 5, Recovered: 4, P50: 2 * s, Max: 5 * s}, all)

	_, none := summarizeRecoveries(nil)
	assert.Equal(t, recoveryStats{Kind: "all"}, none)
}

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond},
		{ms(1, 2, 3), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentile(tt.sorted, tt.p), "p%g of %v", tt.p, tt.sorted)
	}
}
