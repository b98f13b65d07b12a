package pubsub

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// TestStreamBatch: a subscription's batch in the stream model. Bodies are the
// decoded JSON (the Avro payload when it did not decode), the metadata is the
// decoder's, a platform event's uuid is its event id, every event carries its
// opaque replay id, a keepalive carries only its position, and the release
// handle is the subscription's.
func TestStreamBatch(t *testing.T) {
	released := 0
	release := func(n int) { released += n }
	b := Batch{Topic: "/event/Order__e", Fallbacks: 2, Events: []Event{
		{ReplayID: []byte{1}, EventID: "e1", SchemaID: "s1", JSON: []byte(`{"a":1}`), Payload: []byte{9},
			Meta: Metadata{CreatedDate: "2026-01-01T00:00:00.000Z"}},
		{ReplayID: []byte{2}, EventID: "e2", SchemaID: "s1", Payload: []byte{8, 8}, DecodeErr: errors.New("bad avro")},
	}}
	got := streamBatch("/event/Order__e", b, release)
	require.Len(t, got.Events, 2)
	assert.Equal(t, "/event/Order__e", got.Channel)
	assert.Equal(t, 2, got.Fallbacks)

	first := got.Events[0]
	assert.Equal(t, []byte(`{"a":1}`), first.Data)
	assert.Equal(t, stream.Metadata{CreatedDate: "2026-01-01T00:00:00.000Z", EventUUID: "e1", Schema: "s1"}, first.Meta)
	assert.Equal(t, &stream.OpaqueEvent{ReplayID: []byte{1}, EventID: "e1", SchemaID: "s1"}, first.Opaque)

	second := got.Events[1]
	assert.Equal(t, []byte{8, 8}, second.Data, "an event that did not decode keeps its Avro bytes")
	assert.Equal(t, stream.Metadata{Schema: "s1"}, second.Meta)
	assert.EqualError(t, second.Opaque.DecodeErr, "bad avro")

	last, ok := got.Last()
	require.True(t, ok)
	assert.Equal(t, stream.Position{Opaque: "\x02"}, last)
	got.Release(2)
	assert.Equal(t, 2, released, "the release handle is the subscription's")

	change := streamBatch("/data/AccountChangeEvent", Batch{Events: []Event{{ReplayID: []byte{3}, EventID: "e3", JSON: []byte(`{}`),
		Meta: Metadata{ChangeType: "CREATE", EntityName: "Account", RecordIDs: []string{"001"}}}}}, release)
	assert.Equal(t, stream.Metadata{ChangeType: "CREATE", EntityName: "Account", RecordIDs: []string{"001"}}, change.Events[0].Meta,
		"a change event's uuid is not its event id")

	keepalive := streamBatch("/event/Order__e", Batch{LatestReplayID: []byte{7}}, release)
	assert.True(t, keepalive.Keepalive())
	assert.Equal(t, []byte{7}, keepalive.Latest)
	assert.Empty(t, keepalive.Events)
}
