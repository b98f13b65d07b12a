package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

// The Pub/Sub part of the soak: the same bin/benthos runs a second
// salesforce_streaming input, `api: pubsub`, on the soak's platform-event and
// CDC channels of the same emulator (one event store, so the events
// published once must arrive over both APIs), under its own checkpoint key
// prefix. Both inputs live in one broker input, so the kill -9s, graceful
// stops, faults, output outages and nacks hit both at once; the verdict is
// kept per API by giving the Pub/Sub records channels of their own
// (pubsubPrefix + the channel).

// apiKind is the transport of a channel of the soak.
type apiKind int

const (
	apiStreaming apiKind = iota // CometD
	apiPubSub
)

func (a apiKind) String() string {
	if a == apiPubSub {
		return "pubsub"
	}
	return "streaming"
}

// pubsubPrefix starts the record channel of an event delivered over Pub/Sub.
const pubsubPrefix = "pubsub:"

// pubsubCheckpointKey is the Pub/Sub input's checkpoint_cache_key: its own
// prefix, besides the suffix by which the input keeps Pub/Sub keys apart.
const pubsubCheckpointKey = "chaos-pubsub"

// pubsubRecordMapping turns a Pub/Sub message into a record of its own
// channel. The input hands on the replay id as base64 of opaque bytes;
// the emulator's are its CometD replay id as 8 bytes big-endian (an
// emulator detail the input never relies on), so the record names the very
// event the publisher's ledger holds, and a record of the wrong event, or of
// one never published, is seen.
const pubsubRecordMapping = `root = {"channel": "` + pubsubPrefix + `" + @salesforce_channel, ` +
	`"replay_id": ("0x" + @salesforce_replay_id.decode("base64").encode("hex")).int64()}`

// pubsubChannel reports whether a channel (without ?query) is served over
// Pub/Sub: platform events and change data capture.
func pubsubChannel(base string) bool {
	return strings.HasPrefix(base, "/event/") || strings.HasPrefix(base, "/data/")
}

// pubsubSpecs returns the Pub/Sub channels of the soak: one per platform
// event or CDC channel of channels, published there and recorded under
// pubsubPrefix.
func pubsubSpecs(channels []channelSpec) []channelSpec {
	var out []channelSpec
	for _, ch := range channels {
		if ch.API != apiStreaming || !pubsubChannel(ch.Base) {
			continue
		}
		out = append(out, channelSpec{
			Configured: ch.Configured, Base: pubsubPrefix + ch.Base, Source: ch.Base, API: apiPubSub, Gap: ch.Gap,
		})
	}
	return out
}

// source returns the channel an event of ch is published to.
func (ch channelSpec) source() string {
	if ch.Source != "" {
		return ch.Source
	}
	return ch.Base
}

// mirror adds, for every Pub/Sub channel, the entries of its source channel
// under its record channel: the same events must arrive over both APIs.
func mirror[V any](m map[string]V, pubsub []channelSpec, clone func(V) V) map[string]V {
	for _, ch := range pubsub {
		if v, ok := m[ch.source()]; ok {
			m[ch.Base] = clone(v)
		}
	}
	return m
}

// pubsubPosition reads a Pub/Sub channel's stored position the way the input
// does (key and shadow, see checkpointfmt) and returns it as the emulator's
// replay id in its epoch, a start marker still marked Start; a stored id that
// is not the emulator's 8 bytes is an error.
func pubsubPosition(ctx context.Context, get checkpointfmt.GetFunc, channel string) (checkpointfmt.Position, bool, error) {
	pos, ok, err := checkpointfmt.ReadPosition(ctx, get, checkpointfmt.PubSub, pubsubCheckpointKey, channel)
	if err != nil || !ok {
		return checkpointfmt.Position{}, ok, err
	}
	if len(pos.ReplayID) != 8 {
		return checkpointfmt.Position{}, false, fmt.Errorf("the Pub/Sub checkpoint of %s is %q: not an emulator replay id", channel, checkpointfmt.PubSub.Format(pos))
	}
	return checkpointfmt.Position{ID: int64(binary.BigEndian.Uint64(pos.ReplayID)), Epoch: pos.Epoch, Start: pos.Start}, true, nil
}

// freeLoopbackAddr returns a loopback address with a port free right now,
// for the emulator's Pub/Sub API.
func freeLoopbackAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port for the Pub/Sub API: %w", err)
	}
	addr := lis.Addr().String()
	return addr, lis.Close()
}

// perAPI sums a per-channel count by API.
func perAPI[V int | int64](channels []channelSpec, count func(channelSpec) V) map[apiKind]V {
	out := map[apiKind]V{}
	for _, ch := range channels {
		out[ch.API] += count(ch)
	}
	return out
}

// onlyPubSub returns the publish times of the Pub/Sub record channels, to
// measure how long each incident took to recover over Pub/Sub alone.
func onlyPubSub(times pubTimes) pubTimes {
	out := pubTimes{}
	for ch, ts := range times {
		if strings.HasPrefix(ch, pubsubPrefix) {
			out[ch] = ts
		}
	}
	return out
}
