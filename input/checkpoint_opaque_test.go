package input

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// TestOpaqueCheckpoints: Pub/Sub positions move by tracking order, whatever
// the bytes; a keepalive moves the checkpoint only with nothing in flight.
func TestOpaqueCheckpoints(t *testing.T) {
	c := newCheckpointer(newFakeStore(), 10, service.MockResources().Logger(), nil)
	t.Cleanup(func() { _ = c.Close(t.Context()) })
	const ch = "/event/A__e"

	// Ids that sort backwards: only the order of tracking counts.
	first, err := c.Track(t.Context(), ch, stream.Position{Opaque: string([]byte{9, 9})}, true, 2)
	require.NoError(t, err)
	second, err := c.Track(t.Context(), ch, stream.Position{Opaque: string([]byte{1})}, true, 3)
	require.NoError(t, err)

	assert.False(t, c.Keepalive(ch, []byte{5}), "events in flight: the keepalive is ignored")
	second()
	_, ok, err := c.Resume(t.Context(), ch)
	require.NoError(t, err)
	assert.False(t, ok, "the second batch alone does not move the checkpoint past the unacknowledged first")
	first()
	got, ok, err := c.Resume(t.Context(), ch)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, string([]byte{1}), got.Opaque, "both acknowledged: the last one tracked")

	assert.True(t, c.Keepalive(ch, []byte{7}), "nothing in flight: the keepalive moves the checkpoint")
	got, _, _ = c.Resume(t.Context(), ch)
	assert.Equal(t, string([]byte{7}), got.Opaque)
	assert.False(t, c.Keepalive(ch, []byte{7}), "the same position again: nothing to do")

	late, err := c.Track(t.Context(), ch, stream.Position{Opaque: string([]byte{8})}, true, 1)
	require.NoError(t, err)
	late()
	got, _, _ = c.Resume(t.Context(), ch)
	assert.Equal(t, string([]byte{8}), got.Opaque, "an event after the keepalive moves it on")
}
