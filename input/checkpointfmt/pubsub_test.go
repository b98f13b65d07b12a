package checkpointfmt

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPubSubKeyNeverACometDKey(t *testing.T) {
	// A CometD prefix may contain ':' but never '@': no prefix makes a CometD
	// key equal to a Pub/Sub one.
	assert.Equal(t, "ckpt:%2Fevent%2FA__e@pubsub", PubSub.Key("ckpt", "/event/A__e"))
	assert.NotEqual(t, CheckpointKey("ckpt", "/event/A__e"), PubSub.Key("ckpt", "/event/A__e"))
}

func TestOpaquePositionRoundTrip(t *testing.T) {
	for _, p := range []Position{{ReplayID: []byte{0, 0, 0, 0, 0, 0, 0, 7}}, {Epoch: 12, ReplayID: []byte("\xff\x00x")}} {
		got, err := PubSub.Parse(PubSub.Format(p))
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	for _, bad := range []string{"", "AAAA", "@0", "!!@0", "AAAA@", "AAAA@-1", "AAAA@x"} {
		_, err := PubSub.Parse([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestReadOpaqueAfterTornWrites(t *testing.T) {
	old := Position{Epoch: 1, ReplayID: []byte("old-id")}
	newer := Position{Epoch: 1, ReplayID: []byte("newer-id")}
	nextEpoch := Position{Epoch: 12, ReplayID: []byte("e12")}
	full := func(p Position) *string { s := string(PubSub.Format(p)); return &s }
	cut := func(p Position, n int) *string { s := string(PubSub.Format(p)); s = s[:len(s)-n]; return &s }
	tests := []struct {
		name        string
		key, shadow *string
		want        Position
		found, torn bool
	}{
		{name: "nothing stored"},
		{name: "steady state", key: full(newer), shadow: full(newer), want: newer, found: true},
		{name: "crash between shadow and key", key: full(old), shadow: full(newer), want: newer, found: true},
		{name: "key cut short in its id", key: cut(newer, 4), shadow: full(newer), want: newer, found: true, torn: true},
		{name: "shadow cut short in its id", key: full(old), shadow: cut(newer, 5), want: old, found: true, torn: true},
		// The shadow's id is whole and acknowledged, only its epoch lost a digit:
		// resuming after it loses nothing.
		{name: "shadow lost an epoch digit", key: full(Position{Epoch: 1, ReplayID: []byte("x")}), shadow: cut(nextEpoch, 1), want: Position{Epoch: 1, ReplayID: []byte("e12")}, found: true},
		{name: "first shadow write cut", shadow: cut(newer, 6), torn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			get := func(_ context.Context, key string) ([]byte, bool, error) {
				v := tt.key
				if key == "k"+ShadowSuffix {
					v = tt.shadow
				}
				if v == nil {
					return nil, false, nil
				}
				return []byte(*v), true, nil
			}
			got, err := Read(t.Context(), get, PubSub, "k")
			require.NoError(t, err)
			assert.Equal(t, tt.found, got.Found)
			assert.Equal(t, tt.torn, got.TornKey != "")
			if tt.found {
				assert.Equal(t, tt.want, got.Pos)
			}
		})
	}
	corrupt := func(_ context.Context, key string) ([]byte, bool, error) { return []byte("junk"), true, nil }
	_, err := Read(t.Context(), corrupt, PubSub, "k")
	var ce *CorruptError
	assert.ErrorAs(t, err, &ce)
}

// An empty replay id is whole (a write cut short keeps its first bytes), so
// it is never taken for torn: with a valid other copy that one is used, else
// the checkpoint is corrupt and the error names the key.
func TestReadOpaqueEmptyReplayID(t *testing.T) {
	valid := string(PubSub.Format(Position{Epoch: 2, ReplayID: []byte("id")}))
	tests := []struct {
		name, key, shadow string // "-" = absent
		wantErrKey        string
		wantTorn          string
	}{
		{name: "both empty", key: "@0", shadow: "@0", wantErrKey: "k"},
		{name: "key empty, no shadow", key: "@3", shadow: "-", wantErrKey: "k"},
		{name: "shadow empty, no key", key: "-", shadow: "@0", wantErrKey: "k" + ShadowSuffix},
		{name: "key empty, shadow valid", key: "@2", shadow: valid, wantTorn: "k"},
		{name: "shadow empty, key valid", key: valid, shadow: "@2", wantTorn: "k" + ShadowSuffix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			get := func(_ context.Context, key string) ([]byte, bool, error) {
				v := tt.key
				if key == "k"+ShadowSuffix {
					v = tt.shadow
				}
				if v == "-" {
					return nil, false, nil
				}
				return []byte(v), true, nil
			}
			got, err := Read(t.Context(), get, PubSub, "k")
			if tt.wantErrKey != "" {
				var ce *CorruptError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tt.wantErrKey, ce.Key)
				var np *NotPositionError
				assert.ErrorAs(t, err, &np)
				return
			}
			require.NoError(t, err)
			assert.True(t, got.Found)
			assert.Equal(t, []byte("id"), got.Pos.ReplayID)
			assert.Equal(t, tt.wantTorn, got.TornKey)
			assert.NotEmpty(t, got.NotPosition)
		})
	}
}
