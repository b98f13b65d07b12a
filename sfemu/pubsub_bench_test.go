package sfemu

import "testing"

// BenchmarkPubSubEncode measures what a Pub/Sub delivery costs the emulator per event: reading the stored
// CometD message and encoding it with its schema.
func BenchmarkPubSubEncode(b *testing.B) {
	s := New(Config{Seed: 1})
	defer s.Close()
	if _, _, err := s.PublishN("/data/AccountChangeEvent", 1000); err != nil {
		b.Fatal(err)
	}
	s.mu.Lock()
	evs := append([]storedEvent(nil), s.channels["/data/AccountChangeEvent"].retained()...)
	s.mu.Unlock()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		if _, err := s.encodePubSub("/data/AccountChangeEvent", KindCDC, ev.msg, ev.id); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
