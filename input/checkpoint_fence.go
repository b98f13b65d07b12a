package input

import (
	"context"
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// The checkpointer's side of checkpoint health and of the lease: which
// writes it may make, what it reports to storeHealth, and the synchronous
// write of a channel's start position.

// fenced bounds ctx by the lease's deadline; ok is false when this instance
// may not write (it does not hold the lease).
func (c *checkpointer) fenced(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	if c.fence == nil {
		return ctx, func() {}, true
	}
	deadline, ok := c.fence()
	if !ok {
		return ctx, func() {}, false
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	return ctx, cancel, true
}

// disown drops acknowledged progress this instance may no longer store: the
// lease is another's, whose instance resumes from the stored checkpoint and
// delivers these events again.
func (c *checkpointer) disown(batch map[string]stream.Position) {
	for ch := range batch {
		if c.health != nil {
			c.health.drop(ch)
		}
	}
}

func (c *checkpointer) pending(channel string) {
	if c.health != nil {
		c.health.pending(channel)
	}
}

func (c *checkpointer) failed(channel string, err error) {
	if c.health != nil {
		c.health.failed(channel, err)
	}
}

// stored notes a successful write of pos: the channel is caught up unless
// a newer acknowledgement came meanwhile.
func (c *checkpointer) stored(channel string, pos stream.Position) {
	if c.health == nil {
		return
	}
	c.health.ok(channel)
	c.mu.Lock()
	caughtUp := !c.dirty[channel] && c.acked[channel] == pos
	c.mu.Unlock()
	if caughtUp {
		c.health.settled(channel)
	}
}

// Reset forgets every position this process acknowledged or loaded, so that
// the next Resume reads the store again: another instance may have moved the
// checkpoints while this one did not hold the lease. Batches in flight keep
// their tracking; their acks cannot move a reloaded CometD checkpoint back.
func (c *checkpointer) Reset() {
	c.mu.Lock()
	dropped := make([]string, 0, len(c.dirty))
	for ch := range c.dirty {
		dropped = append(dropped, ch)
	}
	clear(c.acked)
	clear(c.dirty)
	clear(c.loaded)
	c.mu.Unlock()
	for _, ch := range dropped {
		if c.health != nil {
			c.health.drop(ch)
		}
	}
}

// Unknown reports whether channel has no position: none stored (after
// Resume) and none acknowledged by this process. A restart of such a channel
// begins at its initial position again, not where this run began.
func (c *checkpointer) Unknown(channel string) bool {
	channel = stream.ChannelKey(channel)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, have := c.acked[channel]
	return !have
}

// StoreStart stores a start marker (checkpointfmt) as channel's checkpoint
// before the channel's first event, of replay id first, is handed out, when
// the channel has no position yet: a crash after that resumes from the
// earliest event skipping those below first (SkipBelow), not at `latest`
// again. It is a no-op once the channel has a position.
func (c *checkpointer) StoreStart(ctx context.Context, channel string, first int64) error {
	channel = stream.ChannelKey(channel)
	if !c.Unknown(channel) {
		return nil
	}
	c.mu.Lock()
	pos := stream.Position{Epoch: c.trackLocked(channel).last.Epoch, Seq: first, Start: true}
	c.mu.Unlock()
	ctx, cancel, ok := c.fenced(ctx)
	defer cancel()
	if !ok {
		return fmt.Errorf("storing the start of %s: this instance does not hold the lease", channel)
	}
	c.storeMu.Lock()
	err := c.store.Store(ctx, channel, pos)
	c.storeMu.Unlock()
	if err != nil {
		c.failed(channel, err)
		return fmt.Errorf("storing the start of %s: %w", channel, err)
	}
	c.mu.Lock()
	if _, have := c.acked[channel]; !have {
		c.acked[channel] = pos
	}
	c.mu.Unlock()
	if c.health != nil {
		c.health.ok(channel)
	}
	return nil
}

// SkipBelow returns F when channel's position is a start marker (first
// batch at replay id F, nothing acknowledged since) of the epoch the channel
// is tracked in: its subscription began at the earliest event, and events
// below F came before the first subscription and are dropped. A fallback
// (a new epoch, whose ids may restart lower) or the first acknowledgement
// ends it.
func (c *checkpointer) SkipBelow(channel string) (int64, bool) {
	channel = stream.ChannelKey(channel)
	c.mu.Lock()
	defer c.mu.Unlock()
	acked, ok := c.acked[channel]
	if !ok || !acked.Start || c.trackLocked(channel).last.Epoch != acked.Epoch {
		return 0, false
	}
	return acked.Seq, true
}

// Probe writes the probe key: whether the cache takes writes now.
func (s cacheStore) Probe(ctx context.Context) error {
	var setErr error
	key := checkpointfmt.ProbeKey(s.prefix)
	if err := s.res.AccessCache(ctx, s.cache, func(c service.Cache) {
		setErr = c.Set(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339)), nil)
	}); err != nil {
		return fmt.Errorf("accessing checkpoint_cache %q: %w", s.cache, err)
	}
	if setErr != nil {
		return fmt.Errorf("writing %q to checkpoint_cache %q: %w", key, s.cache, setErr)
	}
	return nil
}
