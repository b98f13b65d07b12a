package sfemu

import (
	"math"
	"time"
)

// eventGenerator publishes events at a configured rate until the server closes.
// It shares the Server's state and lock through the embedded pointer.
type eventGenerator struct{ *Server }

// startGenerator publishes RATE events per second on a channel until Close, reading the emulator's clock, in
// ticks of at most 100 ms so that high rates publish in batches.
func (s *eventGenerator) startGenerator(g ChannelRate) {
	if g.Rate <= 0 || math.IsInf(g.Rate, 0) || math.IsNaN(g.Rate) {
		s.logf("generator for %s: rate %v ignored", g.Channel, g.Rate)
		return
	}
	tick := time.Duration(float64(time.Second) / g.Rate)
	tick = min(max(tick, 10*time.Millisecond), 100*time.Millisecond)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		start := s.clock.Now()
		var published int64
		for {
			t := s.clock.NewTimer(tick)
			select {
			case <-s.closed:
				t.Stop()
				return
			case <-t.C():
			}
			target := int64(g.Rate * s.clock.Now().Sub(start).Seconds())
			due := target - published
			if due <= 0 {
				continue
			}
			published = target
			// A jump of a fake clock (or a stalled process) is not replayed as a flood: at most one second's worth.
			due = min(due, int64(math.Ceil(g.Rate)))
			if _, _, err := s.produce(g.Channel, int(due)); err != nil {
				s.logf("generating events on %s: %v", g.Channel, err)
				return
			}
		}
	}()
}
