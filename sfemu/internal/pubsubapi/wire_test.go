package pubsubapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
)

// TestFetchResponseWireMatchesProto: a FetchResponse written from kept encodings reads back as the message
// protobuf marshals from the same fields, for responses with and without events, position, rpc id or pending
// count, and the codec sends it as written while marshalling anything else as protobuf does.
func TestFetchResponseWireMatchesProto(t *testing.T) {
	big := make([]byte, 300) // a length that takes a two-byte varint
	for i := range big {
		big[i] = byte(i)
	}
	events := []struct {
		id, schema string
		payload    []byte
		replay     int64
	}{
		{"0b2d4c1e-0000-4000-8000-000000000001", "schema-1", []byte{0x02, 0x0a, 'h', 'i'}, 1},
		{"0b2d4c1e-0000-4000-8000-000000000002", "schema-1", big, 1 << 40},
		{"", "", nil, 7},
	}
	var encs []*eventstore.Encoding
	var want []*eventbusv1.ConsumerEvent
	for _, ev := range events {
		wire, at := appendConsumerEvent(nil, ev.id, ev.schema, ev.payload, ev.replay)
		enc := &eventstore.Encoding{SchemaID: ev.schema, Wire: wire, PayloadAt: int32(at), PayloadTo: int32(at + len(ev.payload))}
		assert.Equal(t, string(ev.payload), string(enc.Payload()), "the payload is found in the wire bytes")
		encs = append(encs, enc)
		ce, err := consumerEvent(enc)
		require.NoError(t, err)
		want = append(want, &eventbusv1.ConsumerEvent{Event: &eventbusv1.ProducerEvent{Id: ev.id, SchemaId: ev.schema, Payload: ev.payload},
			ReplayId: replayBytes(ev.replay)})
		assert.True(t, proto.Equal(want[len(want)-1], ce), "consumerEvent reads the kept bytes back")
	}
	codec := newPubSubCodec()
	for _, tc := range []struct {
		name    string
		encs    []*eventstore.Encoding
		events  []*eventbusv1.ConsumerEvent
		latest  []byte
		rpcID   string
		pending int32
	}{
		{"events", encs, want, replayBytes(7), "rpc-1", 97},
		{"keepalive", nil, nil, replayBytes(9), "rpc-2", 0},
		{"nothing pending, no rpc id", encs[:1], want[:1], replayBytes(1), "", 0},
		{"empty", nil, nil, nil, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := codec.Marshal(encodeFetchResponse(tc.encs, tc.latest, tc.rpcID, tc.pending))
			require.NoError(t, err)
			wire := out.Materialize()
			out.Free()
			got := &eventbusv1.FetchResponse{}
			require.NoError(t, proto.Unmarshal(wire, got))
			wantResp := &eventbusv1.FetchResponse{Events: tc.events, LatestReplayId: tc.latest, RpcId: tc.rpcID, PendingNumRequested: tc.pending}
			assert.True(t, proto.Equal(wantResp, got), "got %v, want %v", got, wantResp)
			marshalled, err := proto.Marshal(wantResp)
			require.NoError(t, err)
			assert.Equal(t, string(marshalled), string(wire), "byte for byte what protobuf marshals")
		})
	}
	req := &eventbusv1.FetchRequest{TopicName: "/data/AccountChangeEvent", NumRequested: 100}
	out, err := codec.Marshal(req)
	require.NoError(t, err)
	back := &eventbusv1.FetchRequest{}
	require.NoError(t, codec.Unmarshal(out, back))
	assert.True(t, proto.Equal(req, back), "other messages are protobuf's")
	assert.Equal(t, "proto", codec.Name())
}
