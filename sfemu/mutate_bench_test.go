package sfemu

import "testing"

// BenchmarkMutateAccounts: the cost of one records-backed change event (a random record change and the event it
// causes), as -preload and -generate of a change event channel pay it.
func BenchmarkMutateAccounts(b *testing.B) {
	s := New(Config{Clock: NewFakeClock(epoch), Seed: 7})
	defer s.Close()
	s.defineChannel("/data/AccountChangeEvent")
	b.ResetTimer()
	if _, err := s.Mutate("Account", b.N, ""); err != nil {
		b.Fatal(err)
	}
}
