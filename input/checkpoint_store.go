package input

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// replayStore persists one position per channel. cacheStore is the real one;
// tests use fakes that count or block writes.
type replayStore interface {
	// Load returns the stored position of channel; ok is false when none is stored.
	Load(ctx context.Context, channel string) (pos stream.Position, ok bool, err error)
	Store(ctx context.Context, channel string, pos stream.Position) error
}

// cacheStore keeps each channel's position in a cache resource, in the
// configured API's checkpointfmt codec: under its own key and that key's
// shadow copy. The prefix is restricted to a safe alphabet when the config is
// read.
type cacheStore struct {
	res    *service.Resources
	cache  string
	prefix string
	log    *service.Logger
	// codec is the API's stored form (checkpointfmt.CometD or PubSub); nil
	// means CometD.
	codec checkpointfmt.Codec
}

func (s cacheStore) format() checkpointfmt.Codec {
	if s.codec == nil {
		return checkpointfmt.CometD
	}
	return s.codec
}

func (s cacheStore) key(channel string) string { return s.format().Key(s.prefix, channel) }

// Load reads channel's position, recovering from a write cut short by a
// crash; a checkpoint that holds nothing to resume from is an error.
func (s cacheStore) Load(ctx context.Context, channel string) (stream.Position, bool, error) {
	codec, key := s.format(), s.key(channel)
	stored, err := checkpointfmt.Read(ctx, s.get, codec, key)
	var corrupt *checkpointfmt.CorruptError
	switch {
	case errors.As(err, &corrupt):
		return stream.Position{}, false, corruptError(s.cache, corrupt, key, channel, codec.What())
	case err != nil:
		return stream.Position{}, false, err
	case s.log == nil:
	case stored.NotPosition != "":
		s.log.Warnf("Checkpoint %q in checkpoint_cache %q holds %q, which is not a %s (%s); resuming %s from the other copy, %s",
			stored.TornKey, s.cache, shorten(stored.TornValue), codec.What(), stored.NotPosition, stream.ChannelKey(channel), shorten(codec.Show(stored.Pos)))
	case stored.Found && stored.TornKey == key:
		s.log.With(logFieldChannel, stream.ChannelKey(channel), logFieldCheckpointKey, key, logFieldReason, "torn_write").Warnf("Checkpoint %q in checkpoint_cache %q holds %q (a write cut short by a crash); resuming %s from its shadow copy %s",
			key, s.cache, shorten(stored.TornValue), stream.ChannelKey(channel), shorten(codec.Show(stored.Pos)))
	case !stored.Found && stored.TornKey != "":
		s.log.With(logFieldChannel, stream.ChannelKey(channel), logFieldCheckpointKey, stored.TornKey, logFieldReason, "torn_write").Warnf("Checkpoint %q in checkpoint_cache %q holds %q (the first write was cut short by a crash); starting %s as if it had no checkpoint",
			stored.TornKey, s.cache, shorten(stored.TornValue), stream.ChannelKey(channel))
	}
	return streamPosition(stored.Pos), stored.Found, nil
}

// streamPosition is a stored position as the checkpointer tracks it. An
// opaque id reads back with Seq 0: its tracking numbers are not stored.
func streamPosition(p checkpointfmt.Position) stream.Position {
	return stream.Position{Epoch: p.Epoch, Seq: p.ID, Start: p.Start, Opaque: string(p.ReplayID)}
}

// storedPosition is pos as a codec stores it.
func storedPosition(pos stream.Position) checkpointfmt.Position {
	p := checkpointfmt.Position{Epoch: pos.Epoch, ID: pos.Seq, Start: pos.Start}
	if pos.Opaque != "" {
		p.ReplayID = []byte(pos.Opaque)
	}
	return p
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
		corrupt.Key, cache, shorten(corrupt.Value), what, why, key+checkpointfmt.ShadowSuffix, stream.ChannelKey(channel))
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
func (s cacheStore) Store(ctx context.Context, channel string, pos stream.Position) error {
	return s.set(ctx, s.key(channel), s.format().Format(storedPosition(pos)))
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
