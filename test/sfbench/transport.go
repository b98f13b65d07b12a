package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

// api is the input's `api` field: the transport a benchmark pipeline reads the emulator with.
type api string

const (
	apiStreaming api = "streaming" // CometD long polling on the emulator's HTTP address
	apiPubSub    api = "pubsub"    // Pub/Sub gRPC on the emulator's -pubsub-addr
)

// transport is how bin/benthos reaches the emulator: the API and, for Pub/Sub, its gRPC address.
type transport struct {
	api      api
	endpoint string // host:port of the emulator's Pub/Sub API (apiPubSub only)
}

// label names the transport in the table.
func (t transport) label() string {
	if t.api == apiPubSub {
		return "bin/benthos api: pubsub"
	}
	return "bin/benthos"
}

// yaml is the input's transport fields, indented for inputBlock; empty for CometD, the default.
func (t transport) yaml() string {
	if t.api != apiPubSub {
		return ""
	}
	// Plaintext gRPC: the endpoint is loopback and the input's tls is off by default.
	return fmt.Sprintf("    api: pubsub\n    pubsub_endpoint: %s\n", strconv.Quote(t.endpoint))
}

// readCheckpoint reads the replay id of channel from the file cache at dir as the input reads it (its key and
// the key's shadow copy, in checkpointfmt's format); none stored, or both copies mid-write, is not one yet.
// Under Pub/Sub the stored id is opaque to the input; the emulator's ids are its CometD replay ids as 8 bytes
// big-endian (an emulator detail only this harness relies on), so both transports compare with the same number.
func (t transport) readCheckpoint(dir, channel string) (int64, bool) {
	get := func(_ context.Context, key string) ([]byte, bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, key))
		return b, err == nil, nil
	}
	if t.api == apiPubSub {
		pos, ok, err := checkpointfmt.ReadPosition(context.Background(), get, checkpointfmt.PubSub, checkpointKey, channel)
		if !ok || err != nil || pos.Start || len(pos.ReplayID) != 8 {
			return 0, false
		}
		return int64(binary.BigEndian.Uint64(pos.ReplayID)), true
	}
	pos, ok, err := checkpointfmt.ReadPosition(context.Background(), get, checkpointfmt.CometD, checkpointKey, channel)
	// A start marker is stored before the first acknowledgement: no replay id acknowledged yet.
	return pos.ID, ok && err == nil && !pos.Start
}
