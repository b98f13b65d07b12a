package sfemu

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxStoreOverhead is the memory a retained event may take, relative to its wire size: 5,000,000 retained 1 KB
// events must fit in 8 GB.
const maxStoreOverhead = 1.3

// storeBytes returns what a channel's retained events cost by construction (their arena bytes, including the
// lost tails of closed chunks, plus the index) and their wire size. The free tail of the current chunk, at most
// arenaMaxChunk per channel, does not grow with the events and is not counted.
func storeBytes(t testing.TB, s *Server, channel string) (stored, wire int64, n int) {
	t.Helper()
	s.store.Lock()
	defer s.store.Unlock()
	ch := s.store.LookupLocked(channel)
	require.NotNil(t, ch)
	for _, ev := range ch.Retained() {
		wire += int64(len(ev.Msg))
	}
	stored = ch.Footprint()
	return stored, wire, len(ch.Retained())
}

// TestRetainedBytesPerEvent checks the store's accounting: what a backlog of generated change events costs
// (arena chunks, index) against the bytes those events take on the wire.
func TestRetainedBytesPerEvent(t *testing.T) {
	for _, tc := range []struct {
		channel string
		count   int
	}{
		{"/data/AccountChangeEvent", 50_000},
		{"/event/Order__e", 50_000},
		{"/topic/Invoices", 20_000},
		{"/u/Alerts", 20_000},
	} {
		t.Run(tc.channel, func(t *testing.T) {
			s := New(Config{Clock: NewFakeClock(epoch), Seed: 3})
			t.Cleanup(s.Close)
			_, _, err := s.PublishN(tc.channel, tc.count)
			require.NoError(t, err)
			stored, wire, n := storeBytes(t, s, tc.channel)
			require.Equal(t, tc.count, n)
			ratio := float64(stored) / float64(wire)
			t.Logf("%s: %d events, %.0f wire bytes/event, %.0f stored bytes/event (%.3fx)", tc.channel, n,
				float64(wire)/float64(n), float64(stored)/float64(n), ratio)
			limit := maxStoreOverhead
			if wire/int64(n) < 400 {
				limit = 1.6 // small events: the fixed 48-byte index entry weighs more
			}
			assert.LessOrEqual(t, ratio, limit)
		})
	}
}

// BenchmarkRetainedBytesPerEvent reports what the Go heap holds per retained CDC event after a preload and a
// full collection (heap-bytes/event), next to the events' wire size (wire-bytes/event).
func BenchmarkRetainedBytesPerEvent(b *testing.B) {
	const events = 200_000
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := New(Config{Clock: NewFakeClock(epoch), Seed: 3})
		_, _, err := s.PublishN("/data/AccountChangeEvent", events)
		require.NoError(b, err)
		runtime.GC()
		runtime.ReadMemStats(&after)
		_, wire, _ := storeBytes(b, s, "/data/AccountChangeEvent")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/events, "heap-bytes/event")
		b.ReportMetric(float64(wire)/events, "wire-bytes/event")
		runtime.KeepAlive(s)
		s.Close()
	}
}
