// Package checkpointfmt is the storage format of the salesforce_streaming
// input's checkpoints: where a channel's acknowledged replay id lives in a
// cache (its key and the key's shadow copy), how the value is written
// (`<id>` or `<id>@<epoch>`), and how it is read back after a crash cut a
// write short. The input writes and reads with it; tools that inspect a
// checkpoint (end-to-end tests, the benchmark, the soak) read with it too,
// so that none re-derives the format.
//
// Each channel's position is stored under CheckpointKey(prefix, channel) as
// decimal text. Escaping keeps `/` out of keys, which a file cache would read
// as directories.
//
// Epoch 0 is written as the bare id (the format of every earlier release); a
// later epoch as `<id>@<epoch>`. A channel starts in epoch 0; every replay-id
// fallback (Salesforce refused the stored id and the input resubscribed from
// earliest or latest) starts the next epoch, whose ids may be lower than those
// of the one before (a sandbox refresh or an org migration restarts them).
// Positions compare by epoch first, so a tool that parses the value as a bare
// integer misses every value written after a fallback.
//
// Every write goes to the shadow key (the key plus ShadowSuffix) first and to
// the key second (WriteOrder), and a read takes the later valid position of
// the two. Caches are not required to write atomically (Benthos' file cache
// truncates, then writes), so a crash mid-write can leave one key empty or
// short; it can never tear both, and the other then still holds a position no
// older than the last one fully written. A value cut short is a prefix of the
// full one and never compares above it, across epochs too.
//
// Checkpoints of `api: pubsub` (pubsub.go) live under their own keys, the
// CometD key plus PubSubKeySuffix, as `<base64 replay id>@<epoch>`: Pub/Sub
// replay ids are opaque bytes, so neither API ever reads the other's. The
// shadow and epoch rules are the same.
package checkpointfmt

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
)

// ShadowSuffix makes a checkpoint key's shadow key.
const ShadowSuffix = ".shadow"

// CheckpointKey is the cache key of channel's position under prefix (the
// input's checkpoint_cache_key): `<prefix>:<url.PathEscape(channel)>`, the
// channel without its PushTopic filter.
func CheckpointKey(prefix, channel string) string {
	return prefix + ":" + url.PathEscape(wire.ChannelKey(channel))
}

// WriteOrder lists the keys a write of key's position goes to, in order: the
// shadow first.
func WriteOrder(key string) []string { return []string{key + ShadowSuffix, key} }

// Position is an acknowledged place in a channel: a replay id within its
// epoch.
type Position struct {
	Epoch int64
	ID    int64
}

// After reports whether p is past q: a later epoch, or a higher id in the
// same one.
func (p Position) After(q Position) bool {
	return p.Epoch > q.Epoch || p.Epoch == q.Epoch && p.ID > q.ID
}

// Format writes p as stored: `<id>` in epoch 0, else `<id>@<epoch>`.
func (p Position) Format() []byte {
	value := strconv.AppendInt(nil, p.ID, 10)
	if p.Epoch > 0 {
		value = append(value, '@')
		value = strconv.AppendInt(value, p.Epoch, 10)
	}
	return value
}

// ParsePosition reads a stored value, `<id>` (epoch 0) or `<id>@<epoch>`,
// ignoring surrounding space.
func ParsePosition(value []byte) (Position, error) {
	idText, epochText, hasEpoch := strings.Cut(strings.TrimSpace(string(value)), "@")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return Position{}, err
	}
	pos := Position{ID: id}
	if hasEpoch {
		if pos.Epoch, err = strconv.ParseInt(epochText, 10, 64); err != nil || pos.Epoch < 1 {
			return Position{}, fmt.Errorf("invalid epoch %q", epochText)
		}
	}
	return pos, nil
}

// GetFunc reads one key of a cache; found is false when the cache has none.
type GetFunc func(ctx context.Context, key string) (value []byte, found bool, err error)

// Stored is what Read found under a key and its shadow.
type Stored struct {
	Pos   Position
	Found bool // false: no position was ever fully written
	// TornKey is set when one of the two keys holds a value a crash cut
	// short, passed over for the other: the key and its value.
	TornKey, TornValue string
}

// CorruptError is a checkpoint whose key and shadow both hold something that
// is not a position: no crash explains it.
type CorruptError struct {
	Key, Value string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("checkpoint %q holds %q, which is not a replay id", e.Key, e.Value)
}

// ReadPosition returns the stored position of channel under prefix, reading
// the key and its shadow with get; ok is false when none is stored.
func ReadPosition(ctx context.Context, get GetFunc, prefix, channel string) (pos Position, ok bool, err error) {
	s, err := Read(ctx, get, CheckpointKey(prefix, channel))
	return s.Pos, s.Found, err
}

// Read returns the position stored under key, recovering from a write cut
// short by a crash. Its error is get's, or a *CorruptError.
func Read(ctx context.Context, get GetFunc, key string) (Stored, error) {
	primary, pFound, err := get(ctx, key)
	if err != nil {
		return Stored{}, err
	}
	shadow, sFound, err := get(ctx, key+ShadowSuffix)
	if err != nil {
		return Stored{}, err
	}
	pPos, pErr := ParsePosition(primary)
	sPos, sErr := ParsePosition(shadow)
	pOK, sOK := pFound && pErr == nil, sFound && sErr == nil
	switch {
	case !pFound && !sFound:
		return Stored{}, nil
	case pOK && sOK:
		if sPos.After(pPos) {
			return Stored{Pos: sPos, Found: true}, nil
		}
		return Stored{Pos: pPos, Found: true}, nil
	case pOK && !sFound:
		return Stored{Pos: pPos, Found: true}, nil
	case sOK && !pFound:
		return Stored{Pos: sPos, Found: true}, nil
	case sOK:
		return Stored{Pos: sPos, Found: true, TornKey: key, TornValue: string(primary)}, nil
	case pOK:
		return Stored{Pos: pPos, Found: true, TornKey: key + ShadowSuffix, TornValue: string(shadow)}, nil
	case !pFound:
		// The shadow is written first: a torn shadow without a key is a crash
		// during the very first write, so no position was ever stored.
		return Stored{TornKey: key + ShadowSuffix, TornValue: string(shadow)}, nil
	}
	return Stored{}, &CorruptError{Key: key, Value: string(primary)}
}
