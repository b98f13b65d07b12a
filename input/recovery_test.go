package input

import (
	"context"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// With on_invalid_replay_id fail, a replay id refused mid-session stops the
// client for good. The next Connect returns that error with the long
// back-off, without starting a client (no handshake) to meet it again; the
// Connect after that tries again, so a fixed checkpoint is picked up.
func TestInputTerminalErrorReturnedByConnect(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{})
	h := newHarness(t, t.TempDir(), url, "channels: [ /event/A__e ]\nreplay_preset: earliest\non_invalid_replay_id: fail\n")
	ids := publishIDs(t, emu, "/event/A__e", 3)
	require.NoError(t, h.in.Connect(t.Context()))
	got := h.readN(t, 3, true)
	require.Equal(t, ids[1], got[len(got)-1])

	// The last id handed on expires, then the session is lost: the client's
	// resubscribe is refused and it stops.
	_, err := emu.Purge("/event/A__e", &ids[1])
	require.NoError(t, err)
	require.NoError(t, emu.InjectFault(sfemu.FaultRequest{Fault: sfemu.FaultUnknownClient}))
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	_, _, err = h.in.ReadBatch(ctx)
	require.ErrorIs(t, err, service.ErrNotConnected, "the stopped client is dropped")

	handshakes := emu.State().Counters["handshakes"]
	err = h.in.Connect(t.Context())
	var boff *service.ErrBackOff
	require.ErrorAs(t, err, &boff)
	assert.Equal(t, 100*time.Millisecond, boff.Wait, "waits long_interval")
	var invalid *stream.InvalidReplayError
	require.ErrorAs(t, boff.Err, &invalid)
	assert.Equal(t, ids[1], invalid.ReplayID.Seq)
	assert.Contains(t, err.Error(), "connecting to Salesforce")
	assert.Equal(t, handshakes, emu.State().Counters["handshakes"], "no new client to rediscover the error")

	// The next Connect starts a client again, which meets the same refusal.
	err = h.in.Connect(t.Context())
	require.ErrorAs(t, err, &boff)
	require.ErrorAs(t, boff.Err, &invalid)
	assert.Greater(t, emu.State().Counters["handshakes"], handshakes)
}
