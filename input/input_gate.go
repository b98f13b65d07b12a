package input

import (
	"context"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

const (
	// storeRecheck is how often a waiting Connect or ReadBatch looks at the
	// store's health (and probes it) again.
	storeRecheck = time.Second
	// storeNamedEvery spaces Connect's not-ready errors, each of which the
	// framework logs: with the one error line of storeHealth and the lease's
	// loss, at most three lines a minute say the store fails.
	storeNamedEvery = time.Minute
)

// initGate sets up checkpoint health and the lease of a new input.
func (i *ssiInput) initGate(mgr *service.Resources) {
	channels := make([]string, 0, len(i.conf.Channels))
	for _, ch := range i.conf.Channels {
		channels = append(channels, stream.ChannelKey(ch))
	}
	// Past the grace period a ReadBatch waiting for events returns to the
	// gate, which sends the framework to Connect (not ready).
	i.health = newStoreHealth(i.conf.CheckpointCache, i.conf.CheckpointGrace, channels, i.log, i.metrics, i.redeliver.wake)
	i.cp.health = i.health
	if !i.conf.Lease.Enabled {
		return
	}
	i.lease = newLease(mgr, i.conf.CheckpointCache, i.conf.CheckpointKey, i.conf.Lease.TTL, i.log, i.health, i.metrics.leaseHeld)
	i.cp.fence = i.lease.writeDeadline
	// Another holder may have moved the checkpoints meanwhile: read them again.
	i.lease.onAcquire = i.cp.Reset
	i.lease.onLose = i.stopReading
}

// stopReading ends the session at once: the lease is lost. Events handed out
// and not yet acknowledged are delivered again by the next holder.
func (i *ssiInput) stopReading() {
	i.mu.Lock()
	client := i.client
	i.client = nil
	i.mu.Unlock()
	if client != nil {
		closeClient(client)
	}
}

// awaitStore holds Connect back while a checkpoint write fails: a session is
// (re)started only on a store that takes writes. It probes the store for
// channels that have no position yet (their first subscription must be one a
// restart can come back to). Past the grace period it returns an error
// naming the channel and the cache, which the framework shows on /ready,
// at most every storeNamedEvery.
func (i *ssiInput) awaitStore(ctx context.Context) error {
	for {
		if i.lease == nil || i.lease.Held() {
			i.probeUnknown(ctx)
		}
		if i.health.healthy() {
			return nil
		}
		if err := i.health.unhealthy(); err != nil && time.Since(i.lastNamed) >= storeNamedEvery {
			i.lastNamed = time.Now()
			return service.NewErrBackOff(err, storeRecheck)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-i.done:
			return service.ErrEndOfInput
		case <-time.After(storeRecheck):
		}
	}
}

// probeUnknown writes the probe key when a channel has no position, and
// records the outcome as that channel's.
func (i *ssiInput) probeUnknown(ctx context.Context) {
	var unknown []string
	for _, ch := range i.health.channels {
		if _, _, err := i.cp.Resume(ctx, ch); err != nil {
			return // Connect reports a checkpoint that cannot be read
		}
		if i.cp.Unknown(ch) {
			unknown = append(unknown, ch)
		}
	}
	if len(unknown) == 0 {
		return
	}
	err := i.probe(ctx)
	for _, ch := range unknown {
		if err != nil {
			i.health.failed(ch, err)
		} else {
			i.health.ok(ch)
		}
	}
}

// readGate holds ReadBatch back while this instance stands by, and sends it
// back to Connect (ErrNotConnected) once a checkpoint write has failed for
// longer than the grace period.
func (i *ssiInput) readGate(ctx context.Context) error {
	for {
		if i.health.unhealthy() != nil {
			return service.ErrNotConnected
		}
		if i.lease == nil || i.lease.Held() {
			return nil
		}
		i.stopReading()
		select {
		case <-i.lease.wait():
		case <-ctx.Done():
			return ctx.Err()
		case <-i.done:
			return service.ErrNotConnected
		case <-time.After(storeRecheck):
		}
	}
}

// wake ends the wait of a ReadBatch for the client's next batch, as a queued
// redelivery does; the call then goes through readGate again.
func (r *redeliveries) wake() {
	r.mu.Lock()
	cancel := r.waiting
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
