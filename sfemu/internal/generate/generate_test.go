package generate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/generate"
)

// A generator produces rate events per second of the emulator's clock, at most one second's worth after a jump,
// and stops when the emulator closes.
func TestStartFollowsTheClock(t *testing.T) {
	clk := sfemu.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	closed := make(chan struct{})
	var wg sync.WaitGroup
	produced := make(chan int, 100)
	generate.Start(generate.Deps{Clock: clk, Closed: closed, WG: &wg, Logf: t.Logf}, "/event/E__e", 20,
		func(n int) error { produced <- n; return nil })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	total := 0
	for range 20 { // twenty ticks of 50 ms: one second at 20 events per second
		require.NoError(t, clk.WaitTimers(ctx, 1))
		clk.Advance(50 * time.Millisecond)
		select {
		case n := <-produced:
			total += n
		case <-ctx.Done():
			t.Fatal("no events after a tick")
		}
	}
	assert.Equal(t, 20, total)

	require.NoError(t, clk.WaitTimers(ctx, 1))
	clk.Advance(time.Hour)
	select {
	case n := <-produced:
		assert.Equal(t, 20, n, "a jump of the clock produces at most one second's worth")
	case <-ctx.Done():
		t.Fatal("no events after the jump")
	}
	close(closed)
	wg.Wait()
}

func TestStartIgnoresBadRatesAndStopsOnError(t *testing.T) {
	var logged []string
	var mu sync.Mutex
	logf := func(format string, args ...any) { mu.Lock(); logged = append(logged, format); mu.Unlock() }
	clk := sfemu.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var wg sync.WaitGroup
	closed := make(chan struct{})
	defer close(closed)
	generate.Start(generate.Deps{Clock: clk, Closed: closed, WG: &wg, Logf: logf}, "/x", 0, func(int) error { panic("called") })
	assert.Equal(t, 0, clk.Timers(), "a zero rate starts nothing")

	generate.Start(generate.Deps{Clock: clk, Closed: closed, WG: &wg, Logf: logf}, "/x", 100, func(int) error { return errors.New("boom") })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, clk.WaitTimers(ctx, 1))
	clk.Advance(100 * time.Millisecond)
	wg.Wait() // the generator ended on the error, not on close
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, logged, 2)
}
