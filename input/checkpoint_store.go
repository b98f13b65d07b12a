package input

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"

	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

// position is an acknowledged place in a channel: a replay id within its
// epoch (see package checkpointfmt). Over Pub/Sub, Opaque holds the replay
// id's bytes and ID numbers positions in the order this process tracked
// them (a stored position reads back as 0), since opaque ids do not order.
// Start marks a CometD start marker (checkpointfmt): ID is the replay id the
// channel's first batch began at, and nothing was acknowledged yet.
type position struct {
	Epoch  int64
	ID     int64
	Opaque string
	Start  bool
}

// After reports whether p is past q, by checkpointfmt's order: a later
// epoch; in the same one, a position past a start marker, else a higher id.
func (p position) After(q position) bool {
	return p.fmt().After(q.fmt())
}

func (p position) fmt() checkpointfmt.Position {
	return checkpointfmt.Position{Epoch: p.Epoch, ID: p.ID, Start: p.Start}
}

// replayStore persists one replay id per channel. cacheStore is the real one;
// tests use fakes that count or block writes.
type replayStore interface {
	// Load returns the stored position of channel; ok is false when none is stored.
	Load(ctx context.Context, channel string) (pos position, ok bool, err error)
	Store(ctx context.Context, channel string, pos position) error
}

// cacheStore keeps each channel's position in a cache resource, in
// checkpointfmt's format: under its own key and that key's shadow copy. The
// prefix is restricted to a safe alphabet when the config is read.
type cacheStore struct {
	res    *service.Resources
	cache  string
	prefix string
	log    *service.Logger
	// pubsub: keys and values of api: pubsub (checkpointfmt.PubSubCheckpointKey).
	pubsub bool
}

func (s cacheStore) key(channel string) string {
	if s.pubsub {
		return checkpointfmt.PubSubCheckpointKey(s.prefix, channel)
	}
	return checkpointfmt.CheckpointKey(s.prefix, channel)
}

func (s cacheStore) Load(ctx context.Context, channel string) (position, bool, error) {
	if s.pubsub {
		return s.loadOpaque(ctx, channel)
	}
	key := s.key(channel)
	stored, err := checkpointfmt.Read(ctx, s.get, key)
	var corrupt *checkpointfmt.CorruptError
	switch {
	case errors.As(err, &corrupt):
		return position{}, false, corruptError(s.cache, corrupt, key, channel, "replay id")
	case err != nil:
		return position{}, false, err
	case s.log == nil:
	case stored.NotPosition != "":
		s.log.Warnf("Checkpoint %q in checkpoint_cache %q holds %q, which is not a replay id (%s); resuming %s from the other copy, %d",
			stored.TornKey, s.cache, shorten(stored.TornValue), stored.NotPosition, wire.ChannelKey(channel), stored.Pos.ID)
	case stored.Found && stored.TornKey == key:
		s.log.With(logFieldChannel, wire.ChannelKey(channel), logFieldCheckpointKey, key, logFieldReason, "torn_write").Warnf("Checkpoint %q in checkpoint_cache %q holds %q (a write cut short by a crash); resuming %s from its shadow copy %d",
			key, s.cache, shorten(stored.TornValue), wire.ChannelKey(channel), stored.Pos.ID)
	case !stored.Found && stored.TornKey != "":
		s.log.With(logFieldChannel, wire.ChannelKey(channel), logFieldCheckpointKey, stored.TornKey, logFieldReason, "torn_write").Warnf("Checkpoint %q in checkpoint_cache %q holds %q (the first write was cut short by a crash); starting %s as if it had no checkpoint",
			stored.TornKey, s.cache, shorten(stored.TornValue), wire.ChannelKey(channel))
	}
	return position{Epoch: stored.Pos.Epoch, ID: stored.Pos.ID, Start: stored.Pos.Start}, stored.Found, nil
}

// loadOpaque is Load of a Pub/Sub checkpoint.
func (s cacheStore) loadOpaque(ctx context.Context, channel string) (position, bool, error) {
	key := s.key(channel)
	stored, err := checkpointfmt.ReadOpaque(ctx, s.get, key)
	var corrupt *checkpointfmt.CorruptError
	switch {
	case errors.As(err, &corrupt):
		return position{}, false, corruptError(s.cache, corrupt, key, channel, "Pub/Sub replay id")
	case err != nil:
		return position{}, false, err
	case s.log != nil && stored.NotPosition != "":
		s.log.Warnf("Checkpoint %q in checkpoint_cache %q holds %q, which is not a Pub/Sub replay id (%s); read the position from the other copy",
			stored.TornKey, s.cache, shorten(stored.TornValue), stored.NotPosition)
	case s.log != nil && stored.TornKey != "":
		s.log.With(logFieldChannel, wire.ChannelKey(channel), logFieldCheckpointKey, stored.TornKey, logFieldReason, "torn_write").Warnf("Checkpoint %q in checkpoint_cache %q holds %q (a write cut short by a crash); read the position from the other copy",
			stored.TornKey, s.cache, shorten(stored.TornValue))
	}
	return position{Epoch: stored.Pos.Epoch, Opaque: string(stored.Pos.ReplayID)}, stored.Found, nil
}

// get reads key from the cache; found is false when the cache has none.
func (s cacheStore) get(ctx context.Context, key string) ([]byte, bool, error) {
	var value []byte
	var getErr error
	if err := s.res.AccessCache(ctx, s.cache, func(c service.Cache) {
		value, getErr = c.Get(ctx, key)
	}); err != nil {
		return nil, false, fmt.Errorf("accessing checkpoint_cache %q: %w", s.cache, err)
	}
	switch {
	case errors.Is(getErr, service.ErrKeyNotFound), errors.Is(getErr, fs.ErrNotExist):
		return nil, false, nil
	case getErr != nil:
		return nil, false, fmt.Errorf("reading checkpoint %q from checkpoint_cache %q: %w", key, s.cache, getErr)
	}
	return value, true, nil
}

// corruptError is the error of a checkpoint that holds nothing to resume
// from: it names the key (and its shadow), why, and the way out. The channel
// does not start: resuming from a guess could skip retained events.
func corruptError(cache string, corrupt *checkpointfmt.CorruptError, key, channel, what string) error {
	why := ""
	var np *checkpointfmt.NotPositionError
	if errors.As(corrupt.Err, &np) {
		why = " (" + np.Reason + ")"
	}
	return fmt.Errorf("checkpoint %q in checkpoint_cache %q holds %q, which is not a %s%s: "+
		"fix or delete that key and %q (deleting them restarts %s from initial_replay_ids or replay_preset)",
		corrupt.Key, cache, shorten(corrupt.Value), what, why, key+checkpointfmt.ShadowSuffix, wire.ChannelKey(channel))
}

// maxLoggedValue bounds what a log line or error shows of a stored value: a
// cache can hold anything, megabytes included.
const maxLoggedValue = 40

// shorten bounds value for a log line or an error, saying how long it was.
func shorten(value string) string {
	if len(value) > maxLoggedValue {
		return fmt.Sprintf("%s... (%d bytes)", value[:maxLoggedValue], len(value))
	}
	return value
}

// Store writes pos under channel's shadow key, then its key.
func (s cacheStore) Store(ctx context.Context, channel string, pos position) error {
	value := pos.fmt().Format()
	if s.pubsub {
		value = checkpointfmt.OpaquePosition{Epoch: pos.Epoch, ReplayID: []byte(pos.Opaque)}.Format()
	}
	return s.set(ctx, s.key(channel), value)
}

// set writes value under key's shadow, then key.
func (s cacheStore) set(ctx context.Context, key string, value []byte) error {
	for _, k := range checkpointfmt.WriteOrder(key) {
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
