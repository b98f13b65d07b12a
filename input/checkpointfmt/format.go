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
// A start marker, `start:<F>` (epoch 0) or `start:<F>@<epoch>`, is stored
// before a channel's first batch is handed out when the channel has no
// position yet: that first batch began with the event of replay id F. It is
// no replay id to resume after (Salesforce refuses a replay id that is no
// retained event, and ids have gaps, so F-1 is usually none): a channel
// holding it resumes from the earliest retained event (-2) and skips the
// events below F until its first acknowledgement stores a position. So a
// crash before that first acknowledgement neither falls back to the preset
// (losing what was published meanwhile) nor replays the history before F.
// Readers that predate the marker fail to parse it as a number and refuse
// it rather than misread it. A marker sorts below every position of its
// epoch; a marker cut short is a prefix of the full one, and either fails to
// parse or names a lower F, which skips less.
//
// Checkpoints of `api: pubsub` (pubsub.go) live under their own keys, the
// CometD key plus PubSubKeySuffix, as `<base64 replay id>@<epoch>`: Pub/Sub
// replay ids are opaque bytes, so neither API ever reads the other's. The
// shadow and epoch rules are the same. Its start marker,
// `start:<base64 R1>;<T1>@<epoch>`, names the first event's replay id R1 and
// its creation time T1 (Unix ms; `;<T1>` left out when the event had none),
// since opaque ids cannot say which events came before R1.
//
// The two stored forms are the two implementations of Codec (CometD and
// PubSub, codec.go): the key, the value's text, and which of key and shadow
// a read takes. Read, the shadow rule and the errors are one code path for
// both.
package checkpointfmt

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// ShadowSuffix makes a checkpoint key's shadow key.
const ShadowSuffix = ".shadow"

// CheckpointKey is the cache key of channel's position under prefix (the
// input's checkpoint_cache_key): `<prefix>:<url.PathEscape(channel)>`, the
// channel without its PushTopic filter.
func CheckpointKey(prefix, channel string) string {
	return prefix + ":" + url.PathEscape(stream.ChannelKey(channel))
}

// WriteOrder lists the keys a write of key's position goes to, in order: the
// shadow first.
func WriteOrder(key string) []string { return []string{key + ShadowSuffix, key} }

// StartPrefix begins the value of a start marker: `start:<F>[@<epoch>]`.
const StartPrefix = "start:"

// Position is an acknowledged place in a channel as stored: a replay id
// within its epoch (ID over CometD, ReplayID's opaque bytes over Pub/Sub),
// or, when Start is set, a start marker (the channel's first batch began
// with the event of replay id ID, or over Pub/Sub of ReplayID created at
// Time; nothing was acknowledged yet).
type Position struct {
	Epoch    int64
	ID       int64
	Start    bool
	ReplayID []byte
	// Time is a Pub/Sub start marker's first event's creation time, Unix
	// milliseconds; 0 when that event had none.
	Time int64
}

// After reports whether p is past q, by stream.Position's order (the one
// rule): a later epoch; in the same one, a position past a start marker, else
// a higher id.
func (p Position) After(q Position) bool {
	return stream.Position{Epoch: p.Epoch, Seq: p.ID, Start: p.Start}.After(stream.Position{Epoch: q.Epoch, Seq: q.ID, Start: q.Start})
}

// NotPositionError is a stored value that is whole, so no crash cut it
// short, but that names no event: a zero or negative CometD replay id, an
// empty Pub/Sub one. Read never resumes from it.
type NotPositionError struct{ Reason string }

func (e *NotPositionError) Error() string { return e.Reason }

// tornOrBad tells a parse error that a write cut short explains (true) from
// a *NotPositionError (false).
func tornOrBad(err error) bool {
	var np *NotPositionError
	return !errors.As(err, &np)
}

// GetFunc reads one key of a cache; found is false when the cache has none.
type GetFunc func(ctx context.Context, key string) (value []byte, found bool, err error)

// Stored is what Read found under a key and its shadow.
type Stored struct {
	Pos   Position
	Found bool // false: no position was ever fully written
	// TornKey is set when one of the two keys holds a value that is not a
	// position, passed over for the other: the key and its value.
	TornKey, TornValue string
	// NotPosition is set with TornKey when that value is no write cut short
	// but whole and naming no event (a *NotPositionError, its reason here):
	// something other than this input wrote it.
	NotPosition string
}

// CorruptError is a checkpoint whose key and shadow hold nothing to resume
// from that a crash explains: both are not positions, or one is absent and
// the other names no event (a zero or negative id).
type CorruptError struct {
	Key, Value string
	Err        error // why Value is not a position
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("checkpoint %q holds %q, which is not a replay id: %v", e.Key, e.Value, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// notPosition is the reason of a *NotPositionError, else "".
func notPosition(err error) string {
	var np *NotPositionError
	if errors.As(err, &np) {
		return np.Reason
	}
	return ""
}

// ReadPosition returns the stored position of channel under prefix in
// codec's form, reading the key and its shadow with get; ok is false when
// none is stored.
func ReadPosition(ctx context.Context, get GetFunc, codec Codec, prefix, channel string) (pos Position, ok bool, err error) {
	s, err := Read(ctx, get, codec, codec.Key(prefix, channel))
	return s.Pos, s.Found, err
}

// Read returns the position stored under key in codec's form, recovering
// from a write cut short by a crash. Its error is get's, or a *CorruptError.
func Read(ctx context.Context, get GetFunc, codec Codec, key string) (Stored, error) {
	primary, pFound, err := get(ctx, key)
	if err != nil {
		return Stored{}, err
	}
	shadow, sFound, err := get(ctx, key+ShadowSuffix)
	if err != nil {
		return Stored{}, err
	}
	pPos, pErr := codec.Parse(primary)
	sPos, sErr := codec.Parse(shadow)
	pOK, sOK := pFound && pErr == nil, sFound && sErr == nil
	switch {
	case !pFound && !sFound:
		return Stored{}, nil
	case pOK && sOK:
		if codec.shadowWins(sPos, pPos) {
			return Stored{Pos: sPos, Found: true}, nil
		}
		return Stored{Pos: pPos, Found: true}, nil
	case pOK && !sFound:
		return Stored{Pos: pPos, Found: true}, nil
	case sOK && !pFound:
		return Stored{Pos: sPos, Found: true}, nil
	case sOK:
		return Stored{Pos: sPos, Found: true, TornKey: key, TornValue: string(primary), NotPosition: notPosition(pErr)}, nil
	case pOK:
		return Stored{Pos: pPos, Found: true, TornKey: key + ShadowSuffix, TornValue: string(shadow), NotPosition: notPosition(sErr)}, nil
	case !pFound && tornOrBad(sErr):
		// The shadow is written first: a torn shadow without a key is a crash
		// during the very first write, so no position was ever stored.
		return Stored{TornKey: key + ShadowSuffix, TornValue: string(shadow)}, nil
	case !pFound:
		return Stored{}, &CorruptError{Key: key + ShadowSuffix, Value: string(shadow), Err: sErr}
	}
	return Stored{}, &CorruptError{Key: key, Value: string(primary), Err: pErr}
}
