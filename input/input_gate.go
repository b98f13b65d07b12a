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

// storeStart stores, before a CometD channel's first batch is handed out, a
// start marker naming the batch's first replay id when the channel has no
// position yet: a crash then resumes from the earliest event skipping those
// below it, not at replay_preset latest again. (The id before it is no
// position to store: ids have gaps, and Salesforce refuses a replay id that
// is no retained event.) When the write fails the batch is kept for the next
// call and false is returned.
func (i *ssiInput) storeStart(ctx, wctx context.Context, client stream.Source, batch stream.Batch) bool {
	if !i.cp.Unknown(batch.Channel) {
		return true
	}
	first, ok := firstReplayID(batch.Events)
	if !ok || first < 1 {
		// Stored ids are at least 1 (checkpointfmt); the first ack stores a
		// position. Opaque ids (Pub/Sub) do not order, so no event below a
		// marker could be told apart: the first ack stores the position.
		return true
	}
	if err := i.cp.StoreStart(wctx, batch.Channel, first); err == nil {
		return true
	}
	i.mu.Lock()
	i.held, i.heldClient = &batch, client
	i.mu.Unlock()
	select {
	case <-time.After(storeRetryDelay):
	case <-wctx.Done():
	case <-ctx.Done():
	}
	return false
}

// dropBeforeStart removes from a CometD batch the events below the start
// marker's replay id of its channel (checkpointer.SkipBelow): they were
// published before the channel's first subscription, whose earliest-event
// resubscription brings them back. The client is released of them.
func (i *ssiInput) dropBeforeStart(batch stream.Batch) stream.Batch {
	// Only a CometD start marker sets SkipBelow (storeStart).
	first, ok := i.cp.SkipBelow(batch.Channel)
	if !ok {
		return batch
	}
	kept := make([]stream.Event, 0, len(batch.Events))
	for _, e := range batch.Events {
		if !e.HasReplayID || e.ReplayID >= first {
			kept = append(kept, e)
		}
	}
	if dropped := len(batch.Events) - len(kept); dropped > 0 {
		i.logs.channel(batch.Channel).Debugf("Skipped %d event(s) of %s below replay id %d, which came before its first subscription", dropped, batch.Channel, first)
		batch.Release(dropped)
	}
	batch.Events = kept
	return batch
}

// firstReplayID is the CometD replay id of the first event of events that
// has one.
func firstReplayID(events []stream.Event) (int64, bool) {
	for _, e := range events {
		if e.HasReplayID {
			return e.ReplayID, true
		}
	}
	return 0, false
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
