// Package clock defines the emulator's source of time, which every timer with a Salesforce meaning reads; the
// wall clock and the fake clock of tests implement it in package sfemu.
package clock

import "time"

// Clock is the emulator's source of time. Every timer that has a Salesforce meaning (long-poll hold, reconnect
// window, retention, generators) reads it, so a FakeClock lets tests run 110 s holds and 72 h retention instantly.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, d after Now.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
}
