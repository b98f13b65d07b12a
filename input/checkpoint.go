package input

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Jeffail/checkpoint"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
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

// position is an acknowledged place in a channel: a replay id within its
// epoch. A channel starts in epoch 0; every replay-id fallback (Salesforce
// refused the stored id and on_invalid_replay_id resubscribed from earliest or
// latest) starts the next epoch, whose ids may be lower than those of the one
// before (a sandbox refresh or an org migration restarts them). Positions
// compare by epoch first, so the first id acknowledged after a fallback
// replaces the stored one even when it is lower, and within an epoch the
// stored id only moves forward.
type position struct {
	Epoch int64
	ID    int64
}

// after reports whether p is past q.
func (p position) after(q position) bool {
	return p.Epoch > q.Epoch || p.Epoch == q.Epoch && p.ID > q.ID
}

// replayStore persists one replay id per channel. cacheStore is the real one;
// tests use fakes that count or block writes.
type replayStore interface {
	// Load returns the stored position of channel; ok is false when none is stored.
	Load(ctx context.Context, channel string) (pos position, ok bool, err error)
	Store(ctx context.Context, channel string, pos position) error
}

// cacheStore keeps each channel's replay id under its own key of a cache
// resource, as decimal text: `<prefix>:<url.PathEscape(channel)>`. Escaping
// keeps `/` out of keys, which the file cache would read as directories; the
// prefix is restricted to a safe alphabet when the config is read.
//
// Epoch 0 is written as the bare id (the format of every earlier release);
// a later epoch as `<id>@<epoch>`. A value cut short by a crash is a prefix of
// the full one and never compares above it, so the higher-of-two rule below
// holds across epochs too.
//
// Every write goes to a shadow key (`<key>.shadow`) first and to the key
// second, and a read takes the higher valid value of the two. Caches are not
// required to write atomically (Benthos' file cache truncates, then writes),
// so a crash mid-write can leave one key empty or short; it can never tear
// both, and the other then still holds a replay id no older than the last one
// fully written.
type cacheStore struct {
	res    *service.Resources
	cache  string
	prefix string
	log    *service.Logger
}

const shadowSuffix = ".shadow"

func (s cacheStore) key(channel string) string { return checkpointKey(s.prefix, channel) }

// checkpointKey is the cache key of channel's replay id under prefix (checkpoint_cache_key).
func checkpointKey(prefix, channel string) string {
	return prefix + ":" + url.PathEscape(wire.ChannelKey(channel))
}

func (s cacheStore) Load(ctx context.Context, channel string) (position, bool, error) {
	key := s.key(channel)
	primary, err := s.get(ctx, key)
	if err != nil {
		return position{}, false, err
	}
	shadow, err := s.get(ctx, key+shadowSuffix)
	if err != nil {
		return position{}, false, err
	}
	pPos, pErr := parsePosition(primary)
	sPos, sErr := parsePosition(shadow)
	switch {
	case primary == nil && shadow == nil:
		return position{}, false, nil
	case pErr == nil && sErr == nil:
		if sPos.after(pPos) {
			return sPos, true, nil
		}
		return pPos, true, nil
	case pErr == nil && shadow == nil:
		return pPos, true, nil
	case sErr == nil:
		if primary != nil && s.log != nil {
			s.log.Warnf("Checkpoint %q in checkpoint_cache %q holds %q (a write cut short by a crash); resuming %s from its shadow copy %d",
				key, s.cache, shorten(primary), wire.ChannelKey(channel), sPos.ID)
		}
		return sPos, true, nil
	case pErr == nil:
		return pPos, true, nil
	case primary == nil:
		// The shadow is written first: a torn shadow without a key is a crash
		// during the very first write, so no position was ever stored.
		if s.log != nil {
			s.log.Warnf("Checkpoint %q in checkpoint_cache %q holds %q (the first write was cut short by a crash); starting %s as if it had no checkpoint",
				key+shadowSuffix, s.cache, shorten(shadow), wire.ChannelKey(channel))
		}
		return position{}, false, nil
	}
	return position{}, false, fmt.Errorf("checkpoint %q in checkpoint_cache %q holds %q, which is not a replay id: "+
		"fix or delete that key and %q (deleting them restarts %s from initial_replay_ids or replay_preset)",
		key, s.cache, shorten(primary), key+shadowSuffix, wire.ChannelKey(channel))
}

// get returns the value of key, or nil when the cache has none.
func (s cacheStore) get(ctx context.Context, key string) ([]byte, error) {
	var value []byte
	var getErr error
	if err := s.res.AccessCache(ctx, s.cache, func(c service.Cache) {
		value, getErr = c.Get(ctx, key)
	}); err != nil {
		return nil, fmt.Errorf("accessing checkpoint_cache %q: %w", s.cache, err)
	}
	switch {
	case errors.Is(getErr, service.ErrKeyNotFound), errors.Is(getErr, fs.ErrNotExist):
		return nil, nil
	case getErr != nil:
		return nil, fmt.Errorf("reading checkpoint %q from checkpoint_cache %q: %w", key, s.cache, getErr)
	case value == nil:
		return []byte{}, nil
	}
	return value, nil
}

// parsePosition reads `<id>` (epoch 0) or `<id>@<epoch>`.
func parsePosition(value []byte) (position, error) {
	idText, epochText, hasEpoch := strings.Cut(strings.TrimSpace(string(value)), "@")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return position{}, err
	}
	pos := position{ID: id}
	if hasEpoch {
		if pos.Epoch, err = strconv.ParseInt(epochText, 10, 64); err != nil || pos.Epoch < 1 {
			return position{}, fmt.Errorf("invalid epoch %q", epochText)
		}
	}
	return pos, nil
}

// formatPosition is parsePosition's inverse.
func formatPosition(pos position) []byte {
	value := strconv.AppendInt(nil, pos.ID, 10)
	if pos.Epoch > 0 {
		value = append(value, '@')
		value = strconv.AppendInt(value, pos.Epoch, 10)
	}
	return value
}

func shorten(value []byte) string {
	if len(value) > 40 {
		return string(value[:40]) + "..."
	}
	return string(value)
}

func (s cacheStore) Store(ctx context.Context, channel string, pos position) error {
	key := s.key(channel)
	value := formatPosition(pos)
	for _, k := range []string{key + shadowSuffix, key} {
		var setErr error
		if err := s.res.AccessCache(ctx, s.cache, func(c service.Cache) {
			setErr = c.Set(ctx, k, value, nil)
		}); err != nil {
			return fmt.Errorf("accessing checkpoint_cache %q: %w", s.cache, err)
		}
		if setErr != nil {
			return fmt.Errorf("writing checkpoint %q to checkpoint_cache %q: %w", k, s.cache, setErr)
		}
	}
	return nil
}

// channelTrack is the in-flight state of one channel.
type channelTrack struct {
	capped *checkpoint.Capped[position]
	// last is the position of the last tracked event that had a replay id; a
	// batch without replay ids is tracked at this position.
	last position
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

	mu       sync.Mutex
	tracks   map[string]*channelTrack
	acked    map[string]position // highest contiguously acked position; only moves forward
	dirty    map[string]bool     // acked but not yet written
	loaded   map[string]bool     // the stored id was read (and folded into acked)
	started  bool
	stopped  bool
	finalCtx context.Context // deadline of the final flush, set by Close

	// storeMu serialises the writer's Stores with Resume's Loads: a cache
	// such as file truncates before it writes, and a Load in between would
	// read an empty value.
	storeMu sync.Mutex

	wake chan struct{} // capacity 1: a pending wake-up absorbs further ones
	stop chan struct{}
	done chan struct{}
}

func newCheckpointer(store replayStore, limit int, log *service.Logger, lag func(string, int64)) *checkpointer {
	if lag == nil {
		lag = func(string, int64) {}
	}
	return &checkpointer{
		store:  store,
		limit:  int64(limit),
		log:    log,
		lag:    lag,
		tracks: map[string]*channelTrack{},
		acked:  map[string]position{},
		dirty:  map[string]bool{},
		loaded: map[string]bool{},
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// start launches the writer goroutine once; Close stops it.
func (c *checkpointer) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.stopped {
		return
	}
	c.started = true
	go c.run()
}

// Resume returns the replay id channel resumes after: the highest
// acknowledged one, whether acknowledged in an earlier run (read from the
// store the first time) or by this process (written yet or not). ok is false
// when the channel has never been acknowledged.
func (c *checkpointer) Resume(ctx context.Context, channel string) (int64, bool, error) {
	channel = wire.ChannelKey(channel)
	c.mu.Lock()
	loaded := c.loaded[channel]
	c.mu.Unlock()
	if !loaded {
		c.storeMu.Lock()
		stored, ok, err := c.store.Load(ctx, channel)
		c.storeMu.Unlock()
		if err != nil {
			return 0, false, err
		}
		c.mu.Lock()
		if cur, have := c.acked[channel]; ok && (!have || stored.after(cur)) {
			c.acked[channel] = stored
		}
		c.loaded[channel] = true
		c.mu.Unlock()
	}
	id, ok := c.Highest(channel)
	return id, ok, nil
}

// Highest returns the highest acknowledged replay id of channel known to this
// process.
func (c *checkpointer) Highest(channel string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pos, ok := c.acked[wire.ChannelKey(channel)]
	return pos.ID, ok
}

// NewEpoch starts the next epoch of channel: Salesforce refused its start
// replay id and the client fell back to earliest or latest, so the ids of the
// batches tracked from now on may be below the stored one. Batches tracked
// before keep their epoch; their acks can no longer move the checkpoint once
// one of the new epoch did.
func (c *checkpointer) NewEpoch(channel string) {
	channel = wire.ChannelKey(channel)
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trackLocked(channel)
	epoch := max(t.last.Epoch, c.acked[channel].Epoch) + 1
	t.last = position{Epoch: epoch, ID: noID}
}

func (c *checkpointer) trackLocked(channel string) *channelTrack {
	t, ok := c.tracks[channel]
	if !ok {
		t = &channelTrack{capped: checkpoint.NewCapped[position](c.limit), last: position{ID: noID}}
		if acked, have := c.acked[channel]; have {
			t.last.Epoch = acked.Epoch
		}
		c.tracks[channel] = t
	}
	return t
}

// Track registers a batch of n messages of channel whose last replay id is
// lastID (hasID false: the batch carries none). It blocks while the channel
// has checkpoint_limit messages in flight. The returned func is the batch's
// acknowledgement: call it exactly once, whatever the outcome.
func (c *checkpointer) Track(ctx context.Context, channel string, lastID int64, hasID bool, n int) (func(), error) {
	channel = wire.ChannelKey(channel)
	c.mu.Lock()
	t := c.trackLocked(channel)
	if hasID {
		t.last.ID = lastID
	}
	at := t.last
	c.mu.Unlock()

	resolve, err := t.capped.Track(ctx, at, int64(n))
	if err != nil {
		return nil, err
	}
	t.reportLag(channel, c.lag)
	return func() {
		if highest := resolve(); highest != nil && highest.ID != noID {
			c.advance(channel, *highest)
		}
		t.reportLag(channel, c.lag)
	}, nil
}

// advance moves channel's acked mark forward to pos and wakes the writer.
func (c *checkpointer) advance(channel string, pos position) {
	c.mu.Lock()
	if cur, ok := c.acked[channel]; ok && !pos.after(cur) {
		c.mu.Unlock()
		return
	}
	c.acked[channel] = pos
	c.dirty[channel] = true
	c.mu.Unlock()
	c.signal()
}

func (c *checkpointer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run is the writer goroutine: it writes on each wake-up, pausing after every write (storeMinInterval, or
// storeRetryDelay after a failure, then retrying), and ends with a final flush once stop is closed.
func (c *checkpointer) run() {
	defer close(c.done)
	defer c.finalFlush()
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeWriteTimeout)
		err := c.flush(ctx)
		cancel()
		pause := storeMinInterval
		if err != nil {
			c.log.Errorf("Persisting acknowledged replay ids failed, retrying in %v (until then a restart replays more events): %v", storeRetryDelay, err)
			pause = storeRetryDelay
		}
		select {
		case <-time.After(pause):
			if err != nil {
				c.signal()
			}
		case <-c.stop:
			return
		}
	}
}

func (c *checkpointer) finalFlush() {
	c.mu.Lock()
	ctx := c.finalCtx
	c.mu.Unlock()
	if err := c.flush(ctx); err != nil {
		c.log.Errorf("Persisting the last acknowledged replay ids at shutdown failed (the next start replays the events after the last stored ids): %v", err)
	}
}

// flush writes the newest acked id of every dirty channel. A failed channel
// is marked dirty again so that a later flush retries it.
func (c *checkpointer) flush(ctx context.Context) error {
	c.mu.Lock()
	batch := make(map[string]position, len(c.dirty))
	for ch := range c.dirty {
		batch[ch] = c.acked[ch]
	}
	clear(c.dirty)
	c.mu.Unlock()

	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	var errs []error
	for ch, pos := range batch {
		if err := c.store.Store(ctx, ch, pos); err != nil {
			errs = append(errs, err)
			c.mu.Lock()
			c.dirty[ch] = true
			c.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Close stops the writer after a final flush bounded by ctx. It is idempotent.
func (c *checkpointer) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return c.waitDone(ctx)
	}
	c.stopped = true
	started := c.started
	c.finalCtx = ctx
	c.mu.Unlock()
	if !started {
		// No Connect ever happened, so no ack did either: nothing to flush.
		return nil
	}
	close(c.stop)
	return c.waitDone(ctx)
}

func (c *checkpointer) waitDone(ctx context.Context) error {
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flushing replay ids at shutdown: %w", ctx.Err())
	}
}
