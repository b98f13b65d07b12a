package sfemu

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/pubsub"
	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
)

// TestPubSubKeepsEncodings: an event is encoded for Pub/Sub when first served and the encoding is kept with the
// event; a second subscriber over the same backlog gets the same events byte for byte from the kept encodings
// (none is made again), across several responses whose buffers are reused.
// With PubSubEncodeAtPublish the encodings are made when the events are published.
func TestPubSubKeepsEncodings(t *testing.T) {
	for _, atPublish := range []bool{false, true} {
		t.Run(map[bool]string{false: "at first serve", true: "at publish"}[atPublish], func(t *testing.T) {
			testKeptEncodings(t, atPublish)
		})
	}
}

func testKeptEncodings(t *testing.T, atPublish bool) {
	const channel, n = "/data/AccountChangeEvent", 250 // above the 100 events of one response
	e := startPubSubEmu(t, Config{PubSubEncodeAtPublish: atPublish}, false)
	e.publish(channel, n)
	ctx := e.ctx(t)
	kept := func() []*eventstore.Encoding {
		e.srv.store.Lock()
		defer e.srv.store.Unlock()
		var out []*eventstore.Encoding
		for _, ev := range e.srv.store.LookupLocked(channel).Retained() {
			out = append(out, ev.PubSub)
		}
		return out
	}
	before := kept()
	for i, enc := range before {
		if atPublish {
			require.NotNil(t, enc, "event %d encoded at publish", i)
		} else {
			require.Nil(t, enc, "nothing is encoded before a Pub/Sub serve")
		}
	}
	drain := func() []*eventbusv1.ConsumerEvent {
		stream, err := e.client.Subscribe(ctx)
		require.NoError(t, err)
		var evs []*eventbusv1.ConsumerEvent
		require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: channel, ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: 100}))
		for len(evs) < n {
			resp, err := stream.Recv()
			require.NoError(t, err)
			evs = append(evs, resp.GetEvents()...)
			if resp.GetPendingNumRequested() == 0 && len(evs) < n {
				require.NoError(t, stream.Send(&eventbusv1.FetchRequest{NumRequested: 100}))
			}
		}
		require.NoError(t, stream.CloseSend())
		return evs
	}
	first := drain()
	encs := kept()
	require.Len(t, encs, n)
	for i, enc := range encs {
		require.NotNil(t, enc, "event %d kept its encoding", i)
		if atPublish {
			require.Same(t, before[i], enc, "event %d served from its encoding made at publish", i)
		}
	}
	second := drain()
	require.Len(t, first, n)
	require.Len(t, second, n)
	comet := e.cometdPayloads(t, channel, n)
	for i := range first {
		a, b := first[i], second[i]
		id, ok := replayFromBytes(a.GetReplayId())
		require.True(t, ok)
		assert.Equal(t, a.GetReplayId(), b.GetReplayId(), "event %d", i)
		assert.Equal(t, a.GetEvent().GetId(), b.GetEvent().GetId(), "event %d", i)
		assert.Equal(t, a.GetEvent().GetSchemaId(), b.GetEvent().GetSchemaId(), "event %d", i)
		assert.Equal(t, a.GetEvent().GetPayload(), b.GetEvent().GetPayload(), "event %d", i)
		assert.Equal(t, encs[i].Payload(), a.GetEvent().GetPayload(), "event %d (replay id %d) is its kept encoding", i, id)
		got, err := pubsub.DecodePayload(e.schema(t, ctx, a.GetEvent().GetSchemaId()), a.GetEvent().GetPayload())
		require.NoError(t, err)
		assert.Equal(t, normalised(t, comet[i]), normalised(t, got), "event %d decodes to its CometD payload", i)
	}
	after := kept()
	for i := range encs {
		assert.Same(t, encs[i], after[i], "event %d was not encoded again", i)
	}
}
