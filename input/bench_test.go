package input

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// cdcBatch is a batch of n CDC events as bayeux hands them on (about 1.1 KB of data each; the metadata of one
// transaction per 10 events, as a bulk update produces).
func cdcBatch(n int) stream.Batch {
	b := stream.Batch{Channel: "/data/AccountChangeEvent", Events: make([]stream.Event, n)}
	data := make([]byte, 1100)
	for i := range b.Events {
		ts := fmt.Sprintf("2025-01-02T03:04:%02d.%03dZ", i/1000%60, i%1000)
		b.Events[i] = stream.Event{
			Channel: b.Channel, ReplayID: int64(1000 + i), HasReplayID: true, Data: data[:len(data):len(data)],
			Meta: stream.Metadata{
				CreatedDate: ts, Schema: "IeRuaY6cbI_HsV8Rv1Mc5g", ChangeType: "UPDATE", EntityName: "Account",
				TransactionKey: fmt.Sprintf("001b7375-0086-250e-e6ca-%012d", i/10), CommitUser: "005xx000001SvAVAA0",
				RecordIDs: []string{fmt.Sprintf("001xx000003D%05dAAG", i)}, CommitTimestamp: ts,
			},
		}
	}
	return b
}

// BenchmarkBatchMessages measures turning one batch of 1,000 CDC events into Benthos messages with their
// metadata (ReadBatch's own work per event). Reported per event.
func BenchmarkBatchMessages(b *testing.B) {
	const n = 1000
	batch := cdcBatch(n)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if msgs := batchMessages(&batch); len(msgs) != n {
			b.Fatalf("%d messages", len(msgs))
		}
	}
	runtime.ReadMemStats(&after)
	events := float64(b.N) * n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/events, "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/events, "B/event")
}
