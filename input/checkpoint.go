package input

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Jeffail/checkpoint"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

const (
	// storeWriteTimeout bounds one cache write of the background writer, so a
	// hung cache delays checkpoints but never wedges the writer for good.
	storeWriteTimeout = 10 * time.Second
	// storeRetryDelay is the pause after a failed cache write before the
	// writer tries again with whatever is newest by then.
	storeRetryDelay = time.Second
	// storeMinInterval paces the writer: after a write it waits this long,
	// so that the acks of a fast backlog drain (hundreds of batches a
	// second) coalesce into at most 100 writes a second instead of one each.
	// A file cache write costs two file rewrites (shadow and key): unpaced,
	// they took about 6% of the CPU of a drain. A crash redelivers at most
	// this much more of the stream; Close flushes at once.
	storeMinInterval = 10 * time.Millisecond
	// noID marks a tracked batch that carries no replay id and follows no
	// batch that did: resolving it moves no checkpoint.
	noID int64 = -1 << 63
)

// channelTrack is the in-flight state of one channel.
type channelTrack struct {
	capped *checkpoint.Capped[stream.Position]
	// last is the position of the last tracked event that had a replay id; a
	// batch without replay ids is tracked at this position.
	last stream.Position
	// seq numbers this channel's opaque positions (Pub/Sub) in the order they
	// were tracked (Position.Seq), since opaque replay ids do not order.
	seq int64
	// lagMu makes reading Pending and reporting it one step, so that
	// concurrent acks cannot leave a stale value in the gauge.
	lagMu sync.Mutex
}

func (t *channelTrack) reportLag(channel string, lag func(string, int64)) {
	t.lagMu.Lock()
	defer t.lagMu.Unlock()
	lag(channel, t.capped.Pending())
}

// checkpointer tracks in-flight batches per channel and persists the highest
// contiguously acknowledged replay id of each channel.
//
// Acks never wait for the cache: they raise an in-memory high-water mark
// (under mu, so it only ever grows whatever order concurrent acks land in) and
// wake a single writer goroutine, which writes the newest value of every
// channel that changed since its last write. While one write is in progress,
// and for storeMinInterval after it, any number of acks coalesce into the
// next, so the cache's latency limits the write rate, never the message rate,
// and a write never goes backwards.
type checkpointer struct {
	store replayStore
	limit int64
	log   *service.Logger
	lag   func(channel string, pending int64)
	// health follows failed writes; fence, when set (the lease), says until
	// when this instance may write (checkpoint_fence.go).
	health *storeHealth
	fence  func() (time.Time, bool)

	mu      sync.Mutex
	tracks  map[string]*channelTrack
	acked   map[string]stream.Position // highest contiguously acked position; only moves forward
	dirty   map[string]bool            // acked but not yet written
	loaded  map[string]bool            // the stored id was read (and folded into acked)
	stopped bool

	// storeMu serialises the writer's Stores with Resume's Loads: a cache
	// such as file truncates before it writes, and a Load in between would
	// read an empty value.
	storeMu sync.Mutex

	wake chan struct{} // capacity 1: a pending wake-up absorbs further ones
	// stop hands the writer the context of Close, which bounds the final
	// flush; capacity 1, sent once.
	stop chan context.Context
	done chan struct{}
}

// newCheckpointer starts the writer goroutine; Close stops it.
func newCheckpointer(store replayStore, limit int, log *service.Logger, lag func(string, int64)) *checkpointer {
	if lag == nil {
		lag = func(string, int64) {}
	}
	c := &checkpointer{
		store:  store,
		limit:  int64(limit),
		log:    log,
		lag:    lag,
		tracks: map[string]*channelTrack{},
		acked:  map[string]stream.Position{},
		dirty:  map[string]bool{},
		loaded: map[string]bool{},
		wake:   make(chan struct{}, 1),
		stop:   make(chan context.Context, 1),
		done:   make(chan struct{}),
	}
	go c.run()
	return c
}

// Resume returns the position channel resumes after: the highest
// acknowledged one, whether acknowledged in an earlier run (read from the
// store the first time) or by this process (written yet or not). ok is false
// when the channel has never been acknowledged.
func (c *checkpointer) Resume(ctx context.Context, channel string) (stream.Position, bool, error) {
	channel = stream.ChannelKey(channel)
	c.mu.Lock()
	loaded := c.loaded[channel]
	c.mu.Unlock()
	if !loaded {
		c.storeMu.Lock()
		stored, ok, err := c.store.Load(ctx, channel)
		c.storeMu.Unlock()
		if err != nil {
			return stream.Position{}, false, err
		}
		c.mu.Lock()
		if cur, have := c.acked[channel]; ok && (!have || stored.After(cur)) {
			c.acked[channel] = stored
		}
		c.loaded[channel] = true
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pos, ok := c.acked[channel]
	return pos, ok, nil
}

// Highest returns the highest acknowledged replay id of channel known to this
// process.
func (c *checkpointer) Highest(channel string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pos, ok := c.acked[stream.ChannelKey(channel)]
	return pos.Seq, ok
}

// NewEpoch starts the next epoch of channel: Salesforce refused its start
// replay id and the client fell back to earliest or latest, so the ids of the
// batches tracked from now on may be below the stored one. Batches tracked
// before keep their epoch; their acks can no longer move the checkpoint once
// one of the new epoch did.
func (c *checkpointer) NewEpoch(channel string) int64 {
	channel = stream.ChannelKey(channel)
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trackLocked(channel)
	epoch := max(t.last.Epoch, c.acked[channel].Epoch) + 1
	t.last = stream.Position{Epoch: epoch, Seq: noID}
	return epoch
}

// NextEpoch is the epoch a NewEpoch of channel would start now; ok is false
// when channel has no acknowledged position.
func (c *checkpointer) NextEpoch(channel string) (epoch int64, ok bool) {
	channel = stream.ChannelKey(channel)
	c.mu.Lock()
	defer c.mu.Unlock()
	acked, ok := c.acked[channel]
	if !ok {
		return 0, false
	}
	epoch = acked.Epoch
	if t, have := c.tracks[channel]; have {
		epoch = max(epoch, t.last.Epoch)
	}
	return epoch + 1, true
}

func (c *checkpointer) trackLocked(channel string) *channelTrack {
	t, ok := c.tracks[channel]
	if !ok {
		t = &channelTrack{capped: checkpoint.NewCapped[stream.Position](c.limit), last: stream.Position{Seq: noID}}
		if acked, have := c.acked[channel]; have {
			t.last.Epoch = acked.Epoch
		}
		c.tracks[channel] = t
	}
	return t
}

// Track registers a batch of n messages of channel whose last position is
// last (hasPos false: the batch carries none). It blocks while the channel
// has checkpoint_limit messages in flight. The returned func is the batch's
// acknowledgement: call it exactly once, whatever the outcome. An opaque
// position (Pub/Sub) is numbered in tracking order, since its ids do not
// order, so acknowledgements move the checkpoint exactly as CometD's do.
func (c *checkpointer) Track(ctx context.Context, channel string, last stream.Position, hasPos bool, n int) (func(), error) {
	return c.track(ctx, channel, n, func(t *channelTrack) {
		switch {
		case !hasPos:
		case last.Opaque != "":
			t.seq++
			t.last.Seq, t.last.Opaque = t.seq, last.Opaque
		default:
			t.last.Seq = last.Seq
		}
	})
}

// Keepalive moves channel's checkpoint to latest, the newest position a
// Pub/Sub keepalive vouches for, when nothing of the channel is in flight
// (every event handed out is acknowledged, none waits for redelivery), so
// that an idle channel's checkpoint never ages past retention. It reports
// whether it did.
func (c *checkpointer) Keepalive(channel string, latest []byte) bool {
	channel = stream.ChannelKey(channel)
	c.mu.Lock()
	t := c.trackLocked(channel)
	if len(latest) == 0 || t.capped.Pending() > 0 {
		c.mu.Unlock()
		return false
	}
	if cur, ok := c.acked[channel]; ok && cur.Opaque == string(latest) {
		c.mu.Unlock()
		return false
	}
	t.seq++
	t.last.Seq, t.last.Opaque = t.seq, string(latest)
	pos := t.last
	c.mu.Unlock()
	c.advance(channel, pos)
	return true
}

func (c *checkpointer) track(ctx context.Context, channel string, n int, update func(*channelTrack)) (func(), error) {
	channel = stream.ChannelKey(channel)
	c.mu.Lock()
	t := c.trackLocked(channel)
	update(t)
	at := t.last
	c.mu.Unlock()

	resolve, err := t.capped.Track(ctx, at, int64(n))
	if err != nil {
		return nil, err
	}
	t.reportLag(channel, c.lag)
	return func() {
		if highest := resolve(); highest != nil && highest.Seq != noID {
			c.advance(channel, *highest)
		}
		t.reportLag(channel, c.lag)
	}, nil
}

// advance moves channel's acked mark forward to pos and wakes the writer.
func (c *checkpointer) advance(channel string, pos stream.Position) {
	c.mu.Lock()
	if cur, ok := c.acked[channel]; ok && !pos.After(cur) {
		c.mu.Unlock()
		return
	}
	c.acked[channel] = pos
	c.dirty[channel] = true
	c.mu.Unlock()
	c.pending(channel)
	c.signal()
}

func (c *checkpointer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run is the writer goroutine: it writes on each wake-up, pausing after every write (storeMinInterval, or
// storeRetryDelay after a failure, then retrying), and ends with a final flush bounded by the context Close
// sends on stop.
func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case ctx := <-c.stop:
			c.finalFlush(ctx)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeWriteTimeout)
		err := c.flush(ctx)
		cancel()
		pause := storeMinInterval
		if err != nil {
			// storeHealth logs the first failure and the recovery, not each retry.
			pause = storeRetryDelay
		}
		select {
		case <-time.After(pause):
			if err != nil {
				c.signal()
			}
		case ctx := <-c.stop:
			c.finalFlush(ctx)
			return
		}
	}
}

func (c *checkpointer) finalFlush(ctx context.Context) {
	if err := c.flush(ctx); err != nil {
		c.log.Errorf("Persisting the last acknowledged replay ids at shutdown failed (the next start replays the events after the last stored ids): %v", err)
	}
}

// flush writes the newest acked id of every dirty channel. A failed channel
// is marked dirty again so that a later flush retries it.
func (c *checkpointer) flush(ctx context.Context) error {
	c.mu.Lock()
	batch := make(map[string]stream.Position, len(c.dirty))
	for ch := range c.dirty {
		batch[ch] = c.acked[ch]
	}
	clear(c.dirty)
	c.mu.Unlock()

	if len(batch) == 0 {
		return nil
	}
	ctx, cancel, ok := c.fenced(ctx)
	defer cancel()
	if !ok {
		c.disown(batch)
		return nil
	}
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	var errs []error
	for ch, pos := range batch {
		if err := c.store.Store(ctx, ch, pos); err != nil {
			errs = append(errs, err)
			c.mu.Lock()
			c.dirty[ch] = true
			c.mu.Unlock()
			c.failed(ch, err)
			continue
		}
		c.stored(ch, pos)
	}
	return errors.Join(errs...)
}

// Close stops the writer after a final flush bounded by ctx. It is idempotent.
func (c *checkpointer) Close(ctx context.Context) error {
	c.mu.Lock()
	first := !c.stopped
	c.stopped = true
	c.mu.Unlock()
	if first {
		c.stop <- ctx
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flushing replay ids at shutdown: %w", ctx.Err())
	}
}
