// Package generate publishes events at a steady rate (-generate) until the emulator closes. It knows nothing of
// channels or stores: it calls the produce function it is given.
package generate

import (
	"math"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/clock"
)

// Deps are the emulator's lifetime and time: generators stop when closed is closed, and wg waits for them.
type Deps struct {
	Clock  clock.Clock
	Closed <-chan struct{}
	WG     *sync.WaitGroup
	Logf   func(format string, args ...any)
}

// Start calls produce for rate events per second, reading the clock in ticks of at most 100 ms so that high rates
// publish in batches. A rate that is not a positive number is logged and ignored; an error from produce ends the
// generator.
func Start(d Deps, name string, rate float64, produce func(n int) error) {
	if rate <= 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
		d.Logf("generator for %s: rate %v ignored", name, rate)
		return
	}
	tick := time.Duration(float64(time.Second) / rate)
	tick = min(max(tick, 10*time.Millisecond), 100*time.Millisecond)
	d.WG.Add(1)
	go func() {
		defer d.WG.Done()
		start := d.Clock.Now()
		var published int64
		for {
			t := d.Clock.NewTimer(tick)
			select {
			case <-d.Closed:
				t.Stop()
				return
			case <-t.C():
			}
			target := int64(rate * d.Clock.Now().Sub(start).Seconds())
			due := target - published
			if due <= 0 {
				continue
			}
			published = target
			// A jump of a fake clock (or a stalled process) is not replayed as a flood: at most one second's worth.
			due = min(due, int64(math.Ceil(rate)))
			if err := produce(int(due)); err != nil {
				d.Logf("generating events on %s: %v", name, err)
				return
			}
		}
	}()
}
