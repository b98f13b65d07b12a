package bayeux

import (
	"context"
	"math/rand/v2"
	"time"
)

// BackoffConfig sets the waits between recovery attempts. Zero fields take the defaults.
type BackoffConfig struct {
	// Initial is the first wait of a failure streak after the immediate attempt (default 1 s). Each further
	// failure doubles it, up to Max (default 60 s), with jitter. A streak ends when a session survives a full
	// long poll.
	Initial time.Duration
	Max     time.Duration
	// Long is the wait after a limit, a busy server or a permission error (default 2 min): Salesforce asks for
	// "a few minutes", and hammering a limit only prolongs it.
	Long time.Duration
}

const (
	defaultBackoffInitial = time.Second
	defaultBackoffMax     = 60 * time.Second
	defaultBackoffLong    = 2 * time.Minute
)

// WithDefaults returns b with every zero field set to its default: the one place the defaults are applied, so
// the Pub/Sub client waits exactly as the CometD client does.
func (b BackoffConfig) WithDefaults() BackoffConfig {
	if b.Initial <= 0 {
		b.Initial = defaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = defaultBackoffMax
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Long <= 0 {
		b.Long = defaultBackoffLong
	}
	return b
}

// Delay is the wait before retry number attempt (1-based) of a streak: Initial*2^(attempt-1) capped at Max, then
// jittered into [d/2, d) so that many clients of one org do not retry in step. Never zero. Callers that retry
// around the client (the input's reconnects) use it too, so that every wait follows one policy.
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

// long is the jittered long wait.
func (b BackoffConfig) long() time.Duration { return jitter(b.Long) }

// LongDelay is the jittered long wait (Long into [Long/2, Long)), after a limit, a busy server or a refused login.
func (b BackoffConfig) LongDelay() time.Duration { return b.long() }

func jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half)
}

// sleep waits d or until ctx ends; it reports whether the full wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
