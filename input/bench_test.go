package input

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

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

// pubsubBatch is a batch of n events as the Pub/Sub source hands them on: cdcBatch's events (or, platform, the
// same events on a platform event channel, each with its uuid) with an 8-byte opaque replay id and no sequence
// number, a 36-character event id (the ids of one response are parts of one string, as the client's codec makes
// them) and the schema id, which the source also puts in the schema field.
func pubsubBatch(n int, platform bool) stream.Batch {
	b := cdcBatch(n)
	if platform {
		b.Channel = "/event/Order_Placed__e"
	}
	ids := make([]byte, 0, 36*n)
	for i := range n {
		ids = fmt.Appendf(ids, "%08x-0000-4000-8000-%012x", i, i)
	}
	idText := string(ids)
	opaque := make([]stream.OpaqueEvent, n)
	replay := make([]byte, 8*n)
	for i := range b.Events {
		ev := &b.Events[i]
		r := replay[8*i : 8*i+8 : 8*i+8]
		binary.BigEndian.PutUint64(r, uint64(5000+i))
		opaque[i] = stream.OpaqueEvent{ReplayID: r, EventID: idText[36*i : 36*i+36], SchemaID: ev.Meta.Schema}
		ev.Channel, ev.ReplayID, ev.HasReplayID, ev.Opaque = b.Channel, 0, false, &opaque[i]
		if platform {
			ev.Meta = stream.Metadata{CreatedDate: ev.Meta.CreatedDate, EventUUID: opaque[i].EventID, Schema: ev.Meta.Schema}
		}
	}
	return b
}

// BenchmarkPubSubMessages measures what BenchmarkBatchMessages does for batches of 1,000 Pub/Sub events, whose
// messages carry three more keys (the replay id as base64 text, the event id, the schema id). Reported per event,
// with the process' CPU time (cpu-ns/event), steadier than the elapsed time on a busy machine.
func BenchmarkPubSubMessages(b *testing.B) {
	for _, kind := range []struct {
		name     string
		platform bool
	}{{"cdc", false}, {"platform-event", true}} {
		b.Run(kind.name, func(b *testing.B) {
			const n = 1000
			batch := pubsubBatch(n, kind.platform)
			b.ReportAllocs()
			var before, after runtime.MemStats
			var ru0, ru1 syscall.Rusage
			runtime.ReadMemStats(&before)
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			for b.Loop() {
				if msgs := batchMessages(&batch); len(msgs) != n {
					b.Fatalf("%d messages", len(msgs))
				}
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			runtime.ReadMemStats(&after)
			events := float64(b.N) * n
			cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) - syscall.TimevalToNsec(ru0.Utime) +
				syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Stime))
			b.ReportMetric(float64(cpu.Nanoseconds())/events, "cpu-ns/event") // the collector's work too, and no time waiting for a CPU
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/events, "allocs/event")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/events, "B/event")
		})
	}
}
