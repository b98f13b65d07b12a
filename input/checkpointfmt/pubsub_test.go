package checkpointfmt

import (
	"context"
	"encoding/base64"
	"strings"
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

// TestPubSubStartMarker: a Pub/Sub start marker names the first event's
// replay id and creation time, round-trips, sorts below every position of
// its epoch, and is refused when cut short. A reader that predates it (which
// decoded everything before `@` as base64) fails on it rather than
// misreading it.
func TestPubSubStartMarker(t *testing.T) {
	marker := Position{Start: true, ReplayID: []byte{0, 0, 0, 0, 0, 0, 0, 7}, Time: 1765065600123}
	assert.Equal(t, "start:AAAAAAAAAAc=;1765065600123@0", string(PubSub.Format(marker)))
	noTime := Position{Start: true, Epoch: 3, ReplayID: []byte("r1")}
	assert.Equal(t, "start:cjE=@3", string(PubSub.Format(noTime)))
	for _, p := range []Position{marker, noTime, {Start: true, Epoch: 12, ReplayID: []byte("\xff;@"), Time: 1}} {
		got, err := PubSub.Parse(PubSub.Format(p))
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	full := string(PubSub.Format(marker))
	for n := 1; n < len(full); n++ {
		got, err := PubSub.Parse([]byte(full[:n]))
		if err == nil {
			t.Errorf("%q, cut short, read as %+v", full[:n], got)
		}
	}
	for _, bad := range []string{"start:@0", "start:AAAA;@0", "start:AAAA;0@0", "start:AAAA;-5@0", "start:AAAA;x@0", "AAAA;5@0"} {
		_, err := PubSub.Parse([]byte(bad))
		assert.Error(t, err, bad)
	}
	idText, _, _ := strings.Cut(full, "@")
	_, err := base64.StdEncoding.DecodeString(idText)
	assert.Error(t, err, "a reader that predates the marker cannot take it for a replay id")

	position := Position{ReplayID: []byte("first-ack")}
	assert.True(t, position.After(marker), "a position is past the marker of its epoch")
	get := func(_ context.Context, key string) ([]byte, bool, error) {
		if key == "k"+ShadowSuffix {
			return PubSub.Format(position), true, nil // the first ack's write reached only the shadow
		}
		return []byte(full), true, nil
	}
	got, err := Read(t.Context(), get, PubSub, "k")
	require.NoError(t, err)
	assert.Equal(t, position, got.Pos)
}
