package stream

import (
	"context"
	"math/rand/v2"
	"time"
)

// BackoffConfig sets the waits between recovery attempts, one policy for both clients and the input's own
// reconnects and redeliveries. Zero fields take the defaults (WithDefaults).
type BackoffConfig struct {
	// Initial is the first wait of a failure streak after the immediate attempt (default 1 s). Each further
	// failure doubles it, up to Max (default 60 s), with jitter. A streak ends when a session stays healthy.
	Initial time.Duration
	Max     time.Duration
	// Long is the wait after a limit, a busy server or a permission error (default 2 min): Salesforce asks for
	// "a few minutes", and hammering a limit only prolongs it.
	Long time.Duration
}

// The defaults a zero BackoffConfig field takes, exported so that the input's configuration spec documents the
// very values the clients use.
const (
	DefaultBackoffInitial = time.Second
	DefaultBackoffMax     = 60 * time.Second
	DefaultBackoffLong    = 2 * time.Minute
)

// WithDefaults returns b with every zero field set to its default: the one place the defaults are applied, so
// the Pub/Sub client waits exactly as the CometD client does.
func (b BackoffConfig) WithDefaults() BackoffConfig {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Long <= 0 {
		b.Long = DefaultBackoffLong
	}
	return b
}

// Delay is the wait before retry number attempt (1-based) of a streak: Initial*2^(attempt-1) capped at Max, then
// jittered into [d/2, d) so that many clients of one org do not retry in step. Never zero. Callers that retry
// around a client (the input's reconnects) use it too, so that every wait follows one policy.
func (b BackoffConfig) Delay(attempt int) time.Duration {
	d := b.Initial
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	return jitter(d)
}

// LongDelay is the jittered long wait (Long into [Long/2, Long)), after a limit, a busy server or a refused login.
func (b BackoffConfig) LongDelay() time.Duration { return jitter(b.Long) }

func jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half)
}

// Sleep waits d, or until ctx ends or stop is closed (a nil stop never is); it reports whether the full wait
// elapsed with ctx still live. Both clients wait their backoff with it.
func Sleep(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	if d <= 0 {
		select {
		case <-stop:
			return false
		default:
			return ctx.Err() == nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}
