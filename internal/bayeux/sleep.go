package bayeux

import (
	"context"
	"time"
)

// The waits themselves (stream.BackoffConfig) are shared with the Pub/Sub client and the input; this file holds
// the session's one sleeping helper.

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
