package checkpointfmt

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Checkpoints of `api: pubsub`. A Pub/Sub replay id is opaque bytes: it
// cannot be compared, converted to a CometD replay id, or derived from one.
// So a Pub/Sub checkpoint lives under its own key (PubSubCheckpointKey: the
// CometD key plus PubSubKeySuffix), which a CometD input never reads, and
// its value is `<base64 replay id>@<epoch>` (standard base64 with padding;
// the epoch always written, 0 included).
//
// The shadow rule is the CometD one: every write goes to the shadow first
// (WriteOrder), a read takes the newer valid value of the two. Since opaque
// ids do not order, "newer" is decided by what a crash can leave:
//   - a value cut short either lacks its `@<epoch>` (refused: the `@` is
//     required) or lost trailing epoch digits (a lower epoch);
//   - both valid and equal: the steady state;
//   - both valid, same epoch, different ids: the crash fell between the
//     shadow's write and the key's, so the shadow holds the newer one;
//   - different epochs: the higher one is newer.

// PubSubKeySuffix ends every Pub/Sub checkpoint key. `@` is neither in
// checkpoint_cache_key's alphabet nor in a path-escaped channel, so no
// CometD key can end with it.
const PubSubKeySuffix = "@pubsub"

// PubSubCheckpointKey is the cache key of channel's Pub/Sub position under
// prefix: CheckpointKey(prefix, channel) + PubSubKeySuffix.
func PubSubCheckpointKey(prefix, channel string) string {
	return CheckpointKey(prefix, channel) + PubSubKeySuffix
}

// OpaquePosition is an acknowledged place in a Pub/Sub channel: a replay id
// as Salesforce handed it out, within its epoch.
type OpaquePosition struct {
	Epoch    int64
	ReplayID []byte
}

// Format writes p as stored: `<base64>@<epoch>`.
func (p OpaquePosition) Format() []byte {
	out := base64.StdEncoding.AppendEncode(nil, p.ReplayID)
	out = append(out, '@')
	return strconv.AppendInt(out, p.Epoch, 10)
}

// ParseOpaquePosition reads a stored Pub/Sub value, ignoring surrounding
// space. The replay id must be non-empty.
func ParseOpaquePosition(value []byte) (OpaquePosition, error) {
	idText, epochText, ok := strings.Cut(strings.TrimSpace(string(value)), "@")
	if !ok {
		return OpaquePosition{}, errors.New("no @<epoch>")
	}
	id, err := base64.StdEncoding.DecodeString(idText)
	if err != nil {
		return OpaquePosition{}, fmt.Errorf("replay id %q is not base64", idText)
	}
	if len(id) == 0 {
		// A write cut short keeps its first bytes: an empty id is whole.
		return OpaquePosition{}, &NotPositionError{Reason: "the replay id is empty (Salesforce would read it as no replay id and start from the preset)"}
	}
	epoch, err := strconv.ParseInt(epochText, 10, 64)
	if err != nil || epoch < 0 {
		return OpaquePosition{}, fmt.Errorf("invalid epoch %q", epochText)
	}
	return OpaquePosition{Epoch: epoch, ReplayID: id}, nil
}

// StoredOpaque is what ReadOpaque found under a key and its shadow.
type StoredOpaque struct {
	Pos   OpaquePosition
	Found bool
	// TornKey, TornValue and NotPosition: see Stored.
	TornKey, TornValue, NotPosition string
}

// ReadOpaque returns the Pub/Sub position stored under key (a
// PubSubCheckpointKey), recovering from a write cut short by a crash. Its
// error is get's, or a *CorruptError.
func ReadOpaque(ctx context.Context, get GetFunc, key string) (StoredOpaque, error) {
	primary, pFound, err := get(ctx, key)
	if err != nil {
		return StoredOpaque{}, err
	}
	shadow, sFound, err := get(ctx, key+ShadowSuffix)
	if err != nil {
		return StoredOpaque{}, err
	}
	pPos, pErr := ParseOpaquePosition(primary)
	sPos, sErr := ParseOpaquePosition(shadow)
	pOK, sOK := pFound && pErr == nil, sFound && sErr == nil
	switch {
	case !pFound && !sFound:
		return StoredOpaque{}, nil
	case pOK && sOK:
		if sPos.Epoch >= pPos.Epoch {
			return StoredOpaque{Pos: sPos, Found: true}, nil // equal, or the newer shadow
		}
		return StoredOpaque{Pos: pPos, Found: true}, nil
	case pOK && !sFound:
		return StoredOpaque{Pos: pPos, Found: true}, nil
	case sOK && !pFound:
		return StoredOpaque{Pos: sPos, Found: true}, nil
	case sOK:
		return StoredOpaque{Pos: sPos, Found: true, TornKey: key, TornValue: string(primary), NotPosition: notPosition(pErr)}, nil
	case pOK:
		return StoredOpaque{Pos: pPos, Found: true, TornKey: key + ShadowSuffix, TornValue: string(shadow), NotPosition: notPosition(sErr)}, nil
	case !pFound && tornOrBad(sErr):
		return StoredOpaque{TornKey: key + ShadowSuffix, TornValue: string(shadow)}, nil
	case !pFound:
		return StoredOpaque{}, &CorruptError{Key: key + ShadowSuffix, Value: string(shadow), Err: sErr}
	}
	return StoredOpaque{}, &CorruptError{Key: key, Value: string(primary), Err: pErr}
}

// ReadPubSubPosition returns the stored Pub/Sub position of channel under
// prefix; ok is false when none is stored.
func ReadPubSubPosition(ctx context.Context, get GetFunc, prefix, channel string) (pos OpaquePosition, ok bool, err error) {
	s, err := ReadOpaque(ctx, get, PubSubCheckpointKey(prefix, channel))
	return s.Pos, s.Found, err
}
