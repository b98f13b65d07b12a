package pubsub

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

func fetchResponseCases(t testing.TB) [][]byte {
	event := func(id, schema string, payload []byte, replay byte) *eventbusv1.ConsumerEvent {
		return &eventbusv1.ConsumerEvent{Event: &eventbusv1.ProducerEvent{Id: id, SchemaId: schema, Payload: payload},
			ReplayId: []byte{0, 0, 0, 0, 0, 0, 0, replay}}
	}
	msgs := []*eventbusv1.FetchResponse{
		{},
		{LatestReplayId: []byte{0, 0, 0, 0, 0, 0, 0, 9}, RpcId: "rpc-1"},
		{Events: []*eventbusv1.ConsumerEvent{event("e1", "s1", []byte{2, 4, 'h', 'i'}, 1), event("e2", "s1", nil, 2), event("", "s2", []byte{0}, 3)},
			LatestReplayId: []byte{0, 0, 0, 0, 0, 0, 0, 3}, RpcId: "rpc-2", PendingNumRequested: 97},
		{Events: []*eventbusv1.ConsumerEvent{{}, {Event: &eventbusv1.ProducerEvent{}}}, PendingNumRequested: -1},
		// Headers are left to protobuf.
		{Events: []*eventbusv1.ConsumerEvent{{Event: &eventbusv1.ProducerEvent{Id: "h", Headers: []*eventbusv1.EventHeader{{Key: "k", Value: []byte("v")}}}}}},
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		out = append(out, b)
	}
	// Hand-written: an unknown field, a repeated singular field, a message field given twice, invalid UTF-8 in a
	// string, a wrong wire type, a truncated message.
	withTag := func(b []byte, num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, num, typ)
	}
	unknown := protowire.AppendVarint(withTag(append([]byte(nil), out[2]...), 9, protowire.VarintType), 5)
	twiceLatest := protowire.AppendBytes(withTag(append([]byte(nil), out[1]...), 2, protowire.BytesType), []byte{7})
	pe1 := protowire.AppendString(withTag(nil, 1, protowire.BytesType), "a")
	pe2 := protowire.AppendString(withTag(nil, 2, protowire.BytesType), "b")
	ce := protowire.AppendBytes(withTag(nil, 1, protowire.BytesType), pe1)
	ce = protowire.AppendBytes(withTag(ce, 1, protowire.BytesType), pe2)
	mergedEvent := protowire.AppendBytes(withTag(nil, 1, protowire.BytesType), ce)
	badUTF8 := protowire.AppendString(withTag(nil, 3, protowire.BytesType), "\xff")
	wrongType := protowire.AppendVarint(withTag(nil, 2, protowire.VarintType), 1)
	return append(out, unknown, twiceLatest, mergedEvent, badUTF8, wrongType, out[2][:len(out[2])-3])
}

// TestFetchResponseParseMatchesProto: the client codec reads every FetchResponse as protobuf reads it, the
// unusual ones by handing them to protobuf, and refuses what protobuf refuses.
func TestFetchResponseParseMatchesProto(t *testing.T) {
	codec := newClientCodec()
	cases := fetchResponseCases(t)
	require.NoError(t, parseFetchResponse(cases[2], &eventbusv1.FetchResponse{}), "a usual response is read by the codec itself")
	for i, b := range cases {
		want := &eventbusv1.FetchResponse{}
		wantErr := proto.Unmarshal(b, want)
		got := &eventbusv1.FetchResponse{}
		err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(append([]byte(nil), b...))}, got)
		if wantErr != nil {
			assert.Error(t, err, "case %d: protobuf refuses it", i)
			continue
		}
		require.NoError(t, err, "case %d", i)
		assert.True(t, proto.Equal(want, got), "case %d: got %v, want %v", i, got, want)
	}
	assert.Empty(t, codec.Name(), "no content subtype: gRPC's default content type")
	req := &eventbusv1.FetchRequest{TopicName: "/event/X__e", NumRequested: 100}
	out, err := codec.Marshal(req)
	require.NoError(t, err)
	back := &eventbusv1.FetchRequest{}
	require.NoError(t, codec.Unmarshal(out, back))
	assert.True(t, proto.Equal(req, back), "other messages are protobuf's")
}

// FuzzFetchResponseParse: whatever the bytes, the client codec agrees with protobuf (same message, or both
// refuse).
func FuzzFetchResponseParse(f *testing.F) {
	for _, b := range fetchResponseCases(f) {
		f.Add(b)
	}
	codec := newClientCodec()
	f.Fuzz(func(t *testing.T, b []byte) {
		want := &eventbusv1.FetchResponse{}
		wantErr := proto.Unmarshal(b, want)
		got := &eventbusv1.FetchResponse{}
		err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(append([]byte(nil), b...))}, got)
		if (wantErr == nil) != (err == nil) {
			t.Fatalf("protobuf: %v, codec: %v", wantErr, err)
		}
		if err == nil && !proto.Equal(want, got) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}

// BenchmarkFetchResponseUnmarshal reads a response of 100 change events of about 400 bytes, as gRPC hands it
// over (in 16 KB buffers), with the client codec and with protobuf's.
func BenchmarkFetchResponseUnmarshal(b *testing.B) {
	resp := &eventbusv1.FetchResponse{LatestReplayId: make([]byte, 8), RpcId: "0b2d4c1e-0000-4000-8000-000000000000", PendingNumRequested: 0}
	for i := range 100 {
		resp.Events = append(resp.Events, &eventbusv1.ConsumerEvent{ReplayId: []byte{0, 0, 0, 0, 0, 0, 1, byte(i)},
			Event: &eventbusv1.ProducerEvent{Id: "0b2d4c1e-0000-4000-8000-0000000000" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
				SchemaId: "Yx2dR1Hq3n8f0XoAc9Zs4g", Payload: make([]byte, 340)}})
	}
	wire, err := proto.Marshal(resp)
	require.NoError(b, err)
	var chunks mem.BufferSlice
	for rest := wire; len(rest) > 0; {
		n := min(len(rest), 16<<10)
		chunks = append(chunks, mem.SliceBuffer(rest[:n]))
		rest = rest[n:]
	}
	for _, c := range []struct {
		name  string
		codec interface {
			Unmarshal(mem.BufferSlice, any) error
		}
	}{{"client codec", newClientCodec()}, {"protobuf", newClientCodec().proto}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.codec.Unmarshal(chunks, &eventbusv1.FetchResponse{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
		})
	}
}

// TestClientKeepsTheDefaultContentType: with its own codec the client still sends gRPC's default content type
// (application/grpc), as with protobuf's codec, not a "+subtype" a server might not expect.
func TestClientKeepsTheDefaultContentType(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	seen := make(chan string, 1)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		md, _ := metadata.FromIncomingContext(stream.Context())
		select {
		case seen <- strings.Join(md.Get("content-type"), ","):
		default:
		}
		return status.Error(codes.Unimplemented, "recorded")
	}))
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	c, err := New(Config{Auth: &countingSource{}, Endpoint: lis.Addr().String(), Plaintext: true})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = c.GetTopic(ctx, "/event/X__e")
	require.Error(t, err)
	select {
	case ct := <-seen:
		assert.Equal(t, "application/grpc", ct)
	case <-ctx.Done():
		t.Fatal("the server saw no call")
	}
}
