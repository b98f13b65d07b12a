package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/salesforce-streaming/salesforce_streaming/internal/bayeux
cpu: Intel(R) Xeon(R) Processor
BenchmarkDecodeConnectAnswer-2   	      50	   5392922 ns/op	 215.44 MB/s	      5393 ns/event	  414065 B/op	       8 allocs/op
PASS
pkg: github.com/salesforce-streaming/salesforce_streaming/sfemu
BenchmarkServeBacklog-2           	    1514	    148119 ns/op	   61316 B/op	      46 allocs/op
BenchmarkBroken-2 --- FAIL
ok  	github.com/salesforce-streaming/salesforce_streaming/sfemu	0.503s
`
	got := parseGoBench(out)
	require.Len(t, got, 2)
	assert.Equal(t, goBenchResult{
		name:  "bayeux.BenchmarkDecodeConnectAnswer-2",
		value: "5392922 ns/op, 215.44 MB/s, 5393 ns/event, 414065 B/op, 8 allocs/op",
	}, got[0])
	assert.Equal(t, "sfemu.BenchmarkServeBacklog-2", got[1].name)
	assert.Equal(t, "148119 ns/op, 61316 B/op, 46 allocs/op", got[1].value)
}

func TestSummarize(t *testing.T) {
	var lats []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	s := summarize(lats)
	assert.Equal(t, 50*time.Millisecond, s.p50)
	assert.Equal(t, 99*time.Millisecond, s.p99)
	assert.Equal(t, 100*time.Millisecond, s.max)
	assert.Equal(t, 100*time.Millisecond, lats[0], "the input is not reordered")

	one := summarize([]time.Duration{7})
	assert.Equal(t, latencySummary{p50: 7, p99: 7, max: 7}, one)
	assert.Equal(t, latencySummary{}, summarize(nil))
}

func TestReadLatenciesWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latency.jsonl")
	lines := `{"lat_us":1500.5,"pub_ms":999}
{"lat_us":2000,"pub_ms":1000}
{"lat_us":3000,"pub_ms":1999}
{"lat_us":4000,"pub_ms":2000}
`
	require.NoError(t, os.WriteFile(path, []byte(lines), 0o600))
	got, err := readLatencies(path, 1000, 2000)
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{2 * time.Millisecond, 3 * time.Millisecond}, got)

	require.NoError(t, os.WriteFile(path, []byte("not json\n"), 0o600))
	_, err = readLatencies(path, 0, 1)
	assert.Error(t, err)
}

func TestReadCheckpoint(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name            string
		content, shadow *string
		want            int64
		ok              bool
	}{
		{name: "missing", content: nil},
		{name: "empty (being written)", content: ptr(""), shadow: ptr("")},
		{name: "replay id", content: ptr("1250432"), shadow: ptr("1250432"), want: 1250432, ok: true},
		{name: "trailing newline", content: ptr("42\n"), shadow: ptr("42\n"), want: 42, ok: true},
		{name: "key being written, the shadow holds the newer id", content: ptr(""), shadow: ptr("43"), want: 43, ok: true},
		{name: "first write: only the shadow", shadow: ptr("7"), want: 7, ok: true},
		{name: "after a replay-id fallback", content: ptr("5@1"), shadow: ptr("5@1"), want: 5, ok: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			channel := "/event/E" + strings.Repeat("x", i+1) + "__e"
			path := filepath.Join(dir, checkpointfmt.CheckpointKey(checkpointKey, channel))
			if tc.content != nil {
				require.NoError(t, os.WriteFile(path, []byte(*tc.content), 0o600))
			}
			if tc.shadow != nil {
				require.NoError(t, os.WriteFile(path+checkpointfmt.ShadowSuffix, []byte(*tc.shadow), 0o600))
			}
			id, ok := transport{api: apiStreaming}.readCheckpoint(dir, channel)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, id)
		})
	}
}

// TestReadPubSubCheckpoint: under Pub/Sub the position is read from its own key as the emulator's 8-byte id.
func TestReadPubSubCheckpoint(t *testing.T) {
	dir := t.TempDir()
	tr := transport{api: apiPubSub, endpoint: "127.0.0.1:1"}
	tests := []struct {
		name  string
		value *string
		want  int64
		ok    bool
	}{
		{name: "missing"},
		{name: "8-byte id", value: ptr("AAAAAAATFQA=@0"), want: 1250560, ok: true},
		{name: "not the emulator's 8 bytes", value: ptr("AQI=@0")},
		{name: "not base64", value: ptr("!!@0")},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			channel := "/data/E" + strings.Repeat("x", i+1) + "ChangeEvent"
			if tc.value != nil {
				path := filepath.Join(dir, checkpointfmt.PubSub.Key(checkpointKey, channel))
				require.NoError(t, os.WriteFile(path, []byte(*tc.value), 0o600))
				require.NoError(t, os.WriteFile(path+checkpointfmt.ShadowSuffix, []byte(*tc.value), 0o600))
			}
			id, ok := tr.readCheckpoint(dir, channel)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, id)
			_, cometd := transport{api: apiStreaming}.readCheckpoint(dir, channel)
			assert.False(t, cometd, "a Pub/Sub checkpoint is not read as a CometD one")
		})
	}
}

func TestTransportYAML(t *testing.T) {
	assert.Empty(t, transport{api: apiStreaming}.yaml())
	in := inputYAML("http://127.0.0.1:1", transport{api: apiPubSub, endpoint: "127.0.0.1:2"}, "/data/AccountChangeEvent", "earliest")
	assert.Contains(t, in, "    api: pubsub\n    pubsub_endpoint: \"127.0.0.1:2\"\n")
}

func TestSumCounter(t *testing.T) {
	text := `# HELP salesforce_streaming_events_received x
# TYPE salesforce_streaming_events_received counter
salesforce_streaming_events_received{channel="a",label="",path="root.input"} 1000
salesforce_streaming_events_received{channel="b",label="",path="root.input"} 24
salesforce_streaming_events_received_total 7
other_metric 5
`
	got, ok := sumCounter(bufio.NewScanner(strings.NewReader(text)), metricReceived)
	assert.True(t, ok)
	assert.Equal(t, int64(1024), got)
	_, ok = sumCounter(bufio.NewScanner(strings.NewReader("other_metric 5\n")), metricReceived)
	assert.False(t, ok)
}

func ptr(s string) *string { return &s }

func TestTableWrite(t *testing.T) {
	var tb table
	tb.check("rate", "120,000 events/s", "≥ 100,000 events/s", true, "bin/benthos -c a|b.yaml")
	tb.check("p99", "70 ms", "< 50 ms", false, "cmd")
	tb.info("note", "x | y", "")
	var buf bytes.Buffer
	tb.write(&buf)
	want := "| measure | value | target | met? | command |\n" +
		"|---|---|---|---|---|\n" +
		"| rate | 120,000 events/s | ≥ 100,000 events/s | yes | `bin/benthos -c a\\|b.yaml` |\n" +
		"| p99 | 70 ms | < 50 ms | no | `cmd` |\n" +
		"| note | x \\| y | — | — |  |\n"
	assert.Equal(t, want, buf.String())
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {500000, "500,000"}, {1234567, "1,234,567"}, {-1500, "-1,500"}}
	for _, tc := range tests {
		assert.Equal(t, tc.want, thousands(tc.n))
	}
	assert.Equal(t, "200 MB", mb(200e6))
	assert.InDelta(t, 100000.0, rate(500000, 5), 1e-9)
	assert.Zero(t, rate(10, 0))
	assert.InDelta(t, 2.5, perEventMicros(5*time.Second, 2000000), 1e-9)
}

func TestCPUModel(t *testing.T) {
	info := []byte("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nprocessor\t: 1\nmodel name\t: other\n")
	assert.Equal(t, "Intel(R) Xeon(R) Processor", cpuModel(info))
	assert.Equal(t, "unknown", cpuModel([]byte("processor : 0\n")))
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-events", "20000", "-live-duration", "5s"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 20000, o.events)
	assert.Equal(t, 5*time.Second, o.liveDuration)
	assert.Equal(t, "/data/AccountChangeEvent", o.channel)

	assert.True(t, o.pubsub)
	assert.True(t, o.pubsubPeers)
	assert.True(t, o.ceiling)
	assert.Equal(t, 800, o.ceilingBytes)
	assert.Equal(t, 3*time.Minute, o.stall)
	assert.Equal(t, apiStreaming, o.pprofAPI)

	for _, bad := range [][]string{{"-events", "0"}, {"-live-rate", "-1"}, {"extra"}, {"-pprof-api", "soap"}, {"-stall-bound", "1"}, {"-stall", "-1s"}, {"-ceiling-bytes", "-1"}} {
		_, err := parseFlags(bad, io.Discard)
		assert.Error(t, err, "%v", bad)
	}
}

// TestStallRows: over Pub/Sub a peak past the bound, more than checkpoint_limit events received, a window that
// never filled or no checkpoint after the release each fail the run; CometD's figures never do.
func TestStallRows(t *testing.T) {
	const mb = int64(1e6)
	ok := stallResult{tr: transport{api: apiPubSub}, startRSS: 48 * mb, fullAt: time.Second, fullRSS: 54 * mb,
		peakRSS: 58 * mb, hwm: 58 * mb, received: 1024, resumed: true}
	tests := []struct {
		name  string
		edit  func(*stallResult)
		fails int
	}{
		{name: "bounded", edit: func(*stallResult) {}},
		{name: "peak past 1.5x", edit: func(r *stallResult) { r.peakRSS = 82 * mb }, fails: 1},
		{name: "window never filled", edit: func(r *stallResult) { r.fullAt, r.fullRSS = -1, 0 }, fails: 1},
		{name: "more than checkpoint_limit received", edit: func(r *stallResult) { r.received = 1025 }, fails: 1},
		{name: "metrics never read", edit: func(r *stallResult) { r.received = -1 }, fails: 1},
		{name: "no checkpoint after the release", edit: func(r *stallResult) { r.resumed = false }, fails: 1},
		{name: "CometD is reported, not checked", edit: func(r *stallResult) {
			r.tr, r.peakRSS, r.received, r.resumed = transport{api: apiStreaming}, 500*mb, 12000, false
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &bench{opts: options{stall: 3 * time.Minute, stallBound: 1.5, stallLimit: 1024}}
			r := ok
			tc.edit(&r)
			b.stallRows(r)
			assert.Len(t, b.fails, tc.fails, "%v", b.fails)
			require.NotEmpty(t, b.table.rows)
			assert.Contains(t, b.table.rows[0].value, "peak during the stall")
		})
	}
}
