package checkpointfmt

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Codec is one API's stored form of a channel's position: where it lives
// (Key, OrgKey) and how its value is written and read. Read applies the
// shadow rule through it, so both forms recover from a torn write alike.
// Only this package implements it: CometD and PubSub.
type Codec interface {
	// Key is the cache key of channel's position under prefix.
	Key(prefix, channel string) string
	// OrgKey is the key of the org record of the checkpoints under prefix.
	OrgKey(prefix string) string
	// Format writes pos as stored.
	Format(pos Position) []byte
	// Parse reads a stored value, ignoring surrounding space. A whole value
	// that names no event is a *NotPositionError.
	Parse(value []byte) (Position, error)
	// What names a stored value in messages ("replay id").
	What() string
	// Show writes pos for a log line.
	Show(pos Position) string
	// shadowWins reports whether Read takes the shadow's position over the
	// key's when both are valid.
	shadowWins(shadow, key Position) bool
}

// The two stored forms.
var (
	// CometD: decimal replay ids, `<id>`, `<id>@<epoch>` or a start marker.
	CometD Codec = cometdCodec{}
	// PubSub: `<base64 replay id>@<epoch>` under the key plus PubSubKeySuffix.
	PubSub Codec = pubsubCodec{}
)

type cometdCodec struct{}

func (cometdCodec) Key(prefix, channel string) string { return CheckpointKey(prefix, channel) }
func (cometdCodec) OrgKey(prefix string) string       { return prefix + orgKeySuffix }
func (cometdCodec) What() string                      { return "replay id" }
func (cometdCodec) Show(pos Position) string          { return strconv.FormatInt(pos.ID, 10) }

// shadowWins: the later position, by Position.After.
func (cometdCodec) shadowWins(shadow, key Position) bool { return shadow.After(key) }

// Format writes p as stored: `<id>` in epoch 0, else `<id>@<epoch>`; a start
// marker with StartPrefix before it.
func (cometdCodec) Format(p Position) []byte {
	var value []byte
	if p.Start {
		value = append(value, StartPrefix...)
	}
	value = strconv.AppendInt(value, p.ID, 10)
	if p.Epoch > 0 {
		value = append(value, '@')
		value = strconv.AppendInt(value, p.Epoch, 10)
	}
	return value
}

// Parse reads a stored value, `<id>` (epoch 0) or `<id>@<epoch>`, or a start
// marker (StartPrefix before either), ignoring surrounding space. An id below
// 1 is refused with a *NotPositionError: the input only ever stores the id of
// a delivered event, and Salesforce reads -1 as "the latest event" and -2 as
// "the earliest", so resuming after such a value would skip or replay the
// retained events.
func (cometdCodec) Parse(value []byte) (Position, error) {
	text := strings.TrimSpace(string(value))
	rest, start := strings.CutPrefix(text, StartPrefix)
	idText, epochText, hasEpoch := strings.Cut(rest, "@")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return Position{}, err
	}
	pos := Position{ID: id, Start: start}
	if hasEpoch {
		if pos.Epoch, err = strconv.ParseInt(epochText, 10, 64); err != nil || pos.Epoch < 1 {
			return Position{}, fmt.Errorf("invalid epoch %q", epochText)
		}
	}
	if id < 1 {
		return Position{}, &NotPositionError{Reason: fmt.Sprintf("replay id %d names no event; Salesforce reads -1 as the latest event and -2 as the earliest", id)}
	}
	return pos, nil
}

type pubsubCodec struct{}

func (pubsubCodec) Key(prefix, channel string) string {
	return CheckpointKey(prefix, channel) + PubSubKeySuffix
}
func (pubsubCodec) OrgKey(prefix string) string { return prefix + orgKeySuffix + PubSubKeySuffix }
func (pubsubCodec) What() string                { return "Pub/Sub replay id" }
func (pubsubCodec) Show(pos Position) string {
	return base64.StdEncoding.EncodeToString(pos.ReplayID)
}

// shadowWins: opaque ids do not order, so the shadow wins unless the key is
// of a later epoch (see pubsub.go for what a crash can leave).
func (pubsubCodec) shadowWins(shadow, key Position) bool { return shadow.Epoch >= key.Epoch }

// Format writes p as stored: `<base64>@<epoch>`, the epoch always written.
func (pubsubCodec) Format(p Position) []byte {
	out := base64.StdEncoding.AppendEncode(nil, p.ReplayID)
	out = append(out, '@')
	return strconv.AppendInt(out, p.Epoch, 10)
}

// Parse reads a stored Pub/Sub value, ignoring surrounding space. The replay
// id must be non-empty.
func (pubsubCodec) Parse(value []byte) (Position, error) {
	idText, epochText, ok := strings.Cut(strings.TrimSpace(string(value)), "@")
	if !ok {
		return Position{}, errors.New("no @<epoch>")
	}
	id, err := base64.StdEncoding.DecodeString(idText)
	if err != nil {
		return Position{}, fmt.Errorf("replay id %q is not base64", idText)
	}
	if len(id) == 0 {
		// A write cut short keeps its first bytes: an empty id is whole.
		return Position{}, &NotPositionError{Reason: "the replay id is empty (Salesforce would read it as no replay id and start from the preset)"}
	}
	epoch, err := strconv.ParseInt(epochText, 10, 64)
	if err != nil || epoch < 0 {
		return Position{}, fmt.Errorf("invalid epoch %q", epochText)
	}
	return Position{Epoch: epoch, ReplayID: id}, nil
}
