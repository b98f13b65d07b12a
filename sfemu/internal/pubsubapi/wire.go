package pubsubapi

import (
	"encoding/binary"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
)

// A Subscribe response is written from the events' kept wire bytes, not marshalled: each kept encoding holds its
// event's ConsumerEvent in protobuf wire form (replay id included: an event's id never changes), and a
// repeated message field is, on the wire, its items written one after the other, each as a length-delimited
// field. So a FetchResponse is the kept bytes of its events, each behind a tag and a length, then the response's
// own three fields: one copy per event instead of building and marshalling a message tree per event.
// TestFetchResponseWireMatchesProto checks that the bytes decode to the same FetchResponse as the marshalled one.

// FetchResponse's and ConsumerEvent's field numbers (pubsub_api.proto).
const (
	fetchEventsField, fetchLatestField, fetchRPCIDField, fetchPendingField = 1, 2, 3, 4
	consumerEventField, consumerReplayField                                = 1, 2
	producerIDField, producerSchemaField, producerPayloadField             = 1, 2, 3
)

// appendConsumerEvent appends the wire form of a ConsumerEvent (event id, schema id, payload, replay id), as
// protobuf marshals it (an empty field left out), and returns where the payload starts in it.
func appendConsumerEvent(b []byte, eventID, schemaID string, payload []byte, id int64) ([]byte, int) {
	field := func(s int) int { // the size of a length-delimited field of s bytes; 0 when empty
		if s == 0 {
			return 0
		}
		return protowire.SizeTag(producerIDField) + protowire.SizeBytes(s)
	}
	producer := field(len(eventID)) + field(len(schemaID)) + field(len(payload))
	b = protowire.AppendTag(b, consumerEventField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(producer))
	if eventID != "" {
		b = protowire.AppendTag(b, producerIDField, protowire.BytesType)
		b = protowire.AppendString(b, eventID)
	}
	if schemaID != "" {
		b = protowire.AppendTag(b, producerSchemaField, protowire.BytesType)
		b = protowire.AppendString(b, schemaID)
	}
	if len(payload) > 0 {
		b = protowire.AppendTag(b, producerPayloadField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(len(payload)))
	}
	at := len(b)
	b = append(b, payload...)
	b = protowire.AppendTag(b, consumerReplayField, protowire.BytesType)
	b = protowire.AppendVarint(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(id)), at
}

// consumerEvent is the message form of a kept encoding, for the responses that are marshalled (ManagedSubscribe).
func consumerEvent(e *eventstore.Encoding) (*eventbusv1.ConsumerEvent, error) {
	ce := &eventbusv1.ConsumerEvent{}
	if err := proto.Unmarshal(e.Wire, ce); err != nil {
		return nil, fmt.Errorf("reading a kept Pub/Sub encoding: %w", err)
	}
	return ce, nil
}

// fetchResponseWire is a FetchResponse already in wire form; pubsubCodec sends its bytes as they are. The buffer
// comes from wireBuffers, and gRPC hands it back there once it has written it.
type fetchResponseWire struct{ buf *[]byte }

// encodeFetchResponse writes a FetchResponse of the kept encodings encs.
func encodeFetchResponse(encs []*eventstore.Encoding, latest []byte, rpcID string, pending int32) *fetchResponseWire {
	size := protowire.SizeTag(fetchLatestField) + protowire.SizeBytes(len(latest)) +
		protowire.SizeTag(fetchRPCIDField) + protowire.SizeBytes(len(rpcID)) +
		protowire.SizeTag(fetchPendingField) + protowire.SizeVarint(uint64(pending))
	for _, e := range encs {
		size += protowire.SizeTag(fetchEventsField) + protowire.SizeBytes(len(e.Wire))
	}
	buf := wireBuffers.Get(size)
	b := (*buf)[:0]
	for _, e := range encs {
		b = protowire.AppendTag(b, fetchEventsField, protowire.BytesType)
		b = protowire.AppendBytes(b, e.Wire)
	}
	if len(latest) > 0 {
		b = protowire.AppendTag(b, fetchLatestField, protowire.BytesType)
		b = protowire.AppendBytes(b, latest)
	}
	if rpcID != "" {
		b = protowire.AppendTag(b, fetchRPCIDField, protowire.BytesType)
		b = protowire.AppendString(b, rpcID)
	}
	if pending != 0 { // proto3 leaves a zero scalar out
		b = protowire.AppendTag(b, fetchPendingField, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(pending))
	}
	*buf = b
	return &fetchResponseWire{buf: buf}
}

// pubsubCodec is the Pub/Sub server's gRPC codec: protobuf's, except that a response already in wire form
// (fetchResponseWire) is sent as it is. It keeps protobuf's name, so clients see the usual content type.
type pubsubCodec struct{ proto encoding.CodecV2 }

func newPubSubCodec() pubsubCodec { return pubsubCodec{proto: encoding.GetCodecV2(protocodec.Name)} }

func (c pubsubCodec) Marshal(v any) (mem.BufferSlice, error) {
	if w, ok := v.(*fetchResponseWire); ok {
		return mem.BufferSlice{mem.NewBuffer(w.buf, wireBuffers)}, nil
	}
	return c.proto.Marshal(v)
}

func (c pubsubCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

func (pubsubCodec) Name() string { return protocodec.Name }

// pubsubServerOptions are the Pub/Sub server's transport settings: its codec, and a write buffer that holds a
// whole response of 100 kept events (about 45 KB for change events), so that one goes out in one write rather
// than in two of gRPC's default 32 KB.
func pubsubServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ForceServerCodecV2(newPubSubCodec()), grpc.WriteBufferSize(256 << 10)}
}

// wireBuffers recycles the buffers of responses in wire form. Unlike gRPC's own pool it does not clear a buffer
// it hands out: encodeFetchResponse writes every byte it sends.
var wireBuffers = &wirePool{}

type wirePool struct{ pool sync.Pool }

// wireBufferMin is the smallest buffer made: a response of 100 change events fits.
const wireBufferMin = 64 << 10

func (p *wirePool) Get(length int) *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok && cap(*b) >= length {
		*b = (*b)[:length]
		return b
	}
	b := make([]byte, length, max(length, wireBufferMin))
	return &b
}

func (p *wirePool) Put(b *[]byte) {
	if cap(*b) <= 4*maxResponsePayloadBytes { // a rare huge response is left to the collector
		p.pool.Put(b)
	}
}
